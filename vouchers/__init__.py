"""Weekly supermarket vouchers: the provider port, the ledger, delivery and the image."""

"""Registration: partner imports, invitations, the registration conversation and the
lifecycle from imported to included, with who changed what and why."""

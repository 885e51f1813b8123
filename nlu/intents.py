"""The canonical intents (DESIGN.md). Flows may only name these; training data covers them all."""

INTENTS = (
    "greet", "goodbye", "thanks", "affirm", "deny", "help_menu", "register",
    "voucher_balance", "voucher_resend", "voucher_where", "voucher_how",
    "referral_health", "referral_legal", "referral_shelter", "referral_food",
    "human", "change_language", "privacy", "delete_data", "stop", "out_of_scope", "safety", "urgent",
)

# Safety-critical intents also have keywords and button payloads in their flows, so they
# work whatever the classifier says.
SAFETY_CRITICAL = ("stop", "delete_data", "human", "urgent")

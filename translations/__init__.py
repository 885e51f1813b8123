"""Gettext catalogs (translations/<lang>/LC_MESSAGES/messages.po) and the tools around them."""

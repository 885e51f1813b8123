"""Privacy: erasing a person, retention limits, key rotation and "what do you know about me".

The service holds data about people without papers; what is not kept cannot leak. See
docs/threat-model.md for what is protected from whom and which test shows it.
"""

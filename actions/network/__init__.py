"""Firewall adapters: PAN-OS (dynamic address groups via User-ID tags) and OPNsense (alias tables).

Each module registers its actions when imported (the ``garrison.actions`` entry points import them).
"""

"""Network adapters: PAN-OS (dynamic address groups via User-ID tags) and OPNsense (alias tables) block IPs;
an RPZ on PowerDNS (a Response Policy Zone every RPZ-capable resolver loads) blocks domains at the DNS layer.

Each module registers its actions when imported (the ``garrison.actions`` entry points import them).
"""

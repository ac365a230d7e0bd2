"""EDR adapters: CrowdStrike Falcon, Microsoft Defender for Endpoint, SentinelOne.

Each module registers its actions when imported (the ``garrison.actions`` entry points import them).
"""

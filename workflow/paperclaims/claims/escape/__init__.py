"""Claim `escape`: see claim.py (registry entry), train.py and analysis.py."""

"""Framework catalogues (data/) and the mapping of govern's capabilities to their controls."""

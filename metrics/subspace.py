"""Subspace measures: eigenspace overlap (May et al. 2019) and GULP (Boix-Adsera et al. 2022).
"""

"""Topological and manifold measures: IMD (Tsitsulin et al. 2020) and RTD (Barannikov et al. 2022).
"""

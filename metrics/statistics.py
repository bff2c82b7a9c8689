"""Differences of one-sided statistics of each representation: magnitude, concentricity, uniformity
(Wang & Isola 2020; the statistics of ReSi, Klabunde et al. 2025).
"""

"""Unit-matching measures: hard and soft correlation matching (Li et al. 2016) and the soft-matching
distance by optimal transport (Khosla & Williams 2023).
"""

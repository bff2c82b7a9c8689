"""Measures on pairwise Euclidean distances: distance correlation and the RSM norm difference.

Registered here (issue 11); see each function for its formula and paper.
"""

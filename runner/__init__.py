"""What runs a scenario grid, below the scenarios and the reports: measuring and timing cells
(``cells``), the values kept between runs (``value_cache``), the platform and its CPU kernels
(``environment``), atomic writes (``atomic``), where things are kept (``paths``) and the results
table's columns (``schema``).

``scenarios`` and ``reports`` may use this package; it uses neither (it reads measures through their
call and cases through their fields), so the arrows point one way: ``metrics`` <- ``runner`` <-
``scenarios``, ``reports`` <- the pytest plugin (``pytest_stitchbench``). Importing it loads no torch.
"""

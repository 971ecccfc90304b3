"""Print production: material and stiffness to slicer settings, slicer-ready 3MF plates, bed fit and
packing, slicing with PrusaSlicer's CLI, print time and cost.

``materials`` (material x stiffness level -> slicer settings, with sources), ``printers`` (printer presets,
``--bed``), ``threemf`` (the 3MF with zone modifier volumes for PrusaSlicer and Orca/Bambu Studio),
``plates`` (fit a device on a bed, pack devices onto plates), ``slicer`` (run ``prusa-slicer``, read
time and filament, cost), ``production`` (file-level: a design's or an order's print outputs).
"""

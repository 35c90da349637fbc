"""Figures of the chapters: one module per chapter (``cnncourse.drawing.pooling``, ...).

Compute lives in ``cnncourse.lessons`` and never imports matplotlib; these modules turn its
results into figures. The course-wide figure helpers are in ``cnncourse.viz``.
"""

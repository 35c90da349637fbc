"""The chapters' pure compute functions: one module per chapter, behind its experiments and widgets.

Each module (``introduction``, ...) is taught in the notebook its docstring names; tests
call its functions directly (tests/test_lessons_<topic>.py). Import the module you need,
e.g. ``from cnncourse.lessons import introduction``.
"""

__all__ = []

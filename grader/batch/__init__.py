"""Grading a whole class: recognise the hand-ins, grade them in parallel with a
result cache, then write a report per hand-in, a gradebook and an overview.

`grade DIR` comes here when DIR holds a class rather than one hand-in
(`layouts.recognise`); `command.run` is the entry point.
"""

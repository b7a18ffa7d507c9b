"""Shared, non-teaching code for the lessons: data loading, plotting utilities and a reference MLP.

What a lesson teaches is written out in the lesson itself; this package holds what several lessons use as a
tool, so that it exists once.
"""

"""Attribution: from classified events and timings to numbers per component and category.

This stage owns the maths (exclusive attribution that adds up to the wall time, breakdowns and
their spread); reports/ only renders what it computes, and the gate compares it. See
docs/architecture.md.
"""

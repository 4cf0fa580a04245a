"""continuum-bench reports: everything that reads results.

``contract`` (the results' vocabulary), ``store`` (the pytest-benchmark JSON format and
the history layout, one data model), ``measured`` (results -> the cost model's inputs,
Table I), ``compare``, ``gate``, ``history``, ``figures``, ``page`` (the HTML),
``report`` (the one report builder), ``render`` (lines, tables), ``cli`` (the
``continuum-bench`` command). Nothing here imports TensorFlow; matplotlib only where a
figure is drawn.
"""

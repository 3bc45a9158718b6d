"""The reproduction suite: the experiments run on top of the pipeline (paper section 4).

One job per module; the command line of each is :mod:`bench.cli.suite` (``ssmtl search``,
``ssmtl ablation``, ``ssmtl gate``, ``ssmtl bench``), which parses the arguments and calls:

* :mod:`~bench.suite.search` (section 4.2): :func:`~bench.suite.search.run_search`,
  :func:`~bench.suite.search.read_best`; its settings :class:`~bench.suite.search_config.
  SearchConfig`, its Optuna study :mod:`~bench.suite.search_study`, its trial
  :mod:`~bench.suite.search_objective`.
* :mod:`~bench.suite.ablation` (Table 4): :func:`~bench.suite.ablation.load_rows`,
  :func:`~bench.suite.ablation.prepare_inputs`, :func:`~bench.suite.ablation.run_row`,
  :func:`~bench.suite.ablation.score_and_evaluate`.
* :mod:`~bench.suite.gate`: the CI regression gate against stored reference AUCs.
* :mod:`~bench.suite.bench_tubes`, :mod:`~bench.suite.bench_model`,
  :mod:`~bench.suite.bench_fps` (supplementary section 6.2, running time): benchmarks of the
  tube cache build, the 3D CNN and the streaming pipeline.

This package imports nothing itself, so the command line can read the light modules (the
search's defaults) without loading torch.
"""

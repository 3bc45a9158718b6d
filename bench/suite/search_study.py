"""The Optuna study of the search of t and lambda (paper section 4.2): storage, sampler, pruner,
resuming.

* **Sampler.** Optuna's ``GridSampler`` over the paper's grid (the default), or ``TPESampler``
  (not in the paper): ``t`` categorical, ``lambda`` continuous log-uniform in the config's range.
* **Pruning.** After every epoch a trial reports its best validation objective so far
  (``trial.report(value, epoch)``); Optuna's ``MedianPruner`` (``n_startup_trials`` finished trials
  before it prunes, none in the first ``pruner_warmup`` epochs) stops trials that are worse than
  the median of the others at the same epoch. A pruned trial counts as done; its value is its
  last report. ``pruner="none"`` disables it. (Pruning is ours: the paper trains every point.)
* **Storage and resuming.** The study lives in an Optuna RDB storage, by default the SQLite file
  ``artifacts/search/optuna.db`` (relative to the working folder). Rerunning the same command
  resumes the study: completed and pruned trials are never rerun, and a trial that was running
  when the process was killed (it stays ``RUNNING`` in the storage) is marked ``FAIL`` and its
  parameters are queued again (same grid point, a new trial number), so the grid completes. For
  the grid, exactly the points without a ``COMPLETE`` or ``PRUNED`` trial run. A study created
  with another grid, objective or training profile is refused (ValueError): use another
  ``--study-name``.
* **Several machines.** Point every worker at one server database, e.g.
  ``--storage postgresql://user@host/db`` (any SQLAlchemy URL; the password is best put in
  ``~/.pgpass``, and is never written to the outputs), and give ``--heartbeat 60``: with a
  heartbeat, a ``RUNNING`` trial is only considered dead (failed and requeued) when its heartbeat
  is older than twice that interval, so workers leave each other's live trials alone. Without a
  heartbeat (the default, one worker), every ``RUNNING`` trial found at start is taken for a
  killed one. Workers started at the same instant may queue a point twice (Optuna's
  ``enqueue``/``GridSampler`` are not transactional); start them a few seconds apart.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

from bench.errors import InputError
from bench.suite.search_config import DONE_STATES, GRID_SAMPLER_SEED, SearchConfig, grid_points


def make_sampler(config: SearchConfig) -> Any:
    """The paper's grid (a fixed seed: stored grid ids keep their meaning) or TPE."""
    import optuna

    if config.sampler == "grid":
        space = {"t": list(config.t_values), "lam": list(config.lams)}
        return optuna.samplers.GridSampler(space, seed=GRID_SAMPLER_SEED)
    return optuna.samplers.TPESampler(seed=config.seed)


def make_pruner(config: SearchConfig) -> Any:
    import optuna

    if config.pruner == "none":
        return optuna.pruners.NopPruner()
    # epochs are reported as steps 1, 2, ...: MedianPruner never prunes at a step < n_warmup_steps
    return optuna.pruners.MedianPruner(
        n_startup_trials=config.pruner_startup, n_warmup_steps=config.pruner_warmup + 1
    )


def suggest(trial: Any, config: SearchConfig) -> tuple[int, float]:
    """The trial's ``(t, lam)``: the grid's categorical values, or TPE's t and log-uniform
    lambda."""
    t = int(trial.suggest_categorical("t", list(config.t_values)))
    if config.sampler == "grid":
        return t, float(trial.suggest_categorical("lam", list(config.lams)))
    return t, float(trial.suggest_float("lam", *config.lam_range, log=True))


def normalize_storage(url: str) -> str:
    """``url`` with a relative SQLite path made absolute (its folder created): the same study
    whatever the working folder of a later call. Other URLs are returned unchanged."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        parsed = make_url(url)
    except ArgumentError as error:
        raise InputError(
            f"--storage {url!r} is not an SQLAlchemy database URL ({error})"
        ) from error
    if parsed.get_backend_name() != "sqlite":
        return url
    if not parsed.database or parsed.database == ":memory:":
        raise InputError(
            f"--storage {url!r}: an in-memory SQLite database cannot hold a "
            "resumable study; give a file"
        )
    path = Path(parsed.database).expanduser().resolve()
    path.parent.mkdir(parents=True, exist_ok=True)
    return parsed.set(database=str(path)).render_as_string(hide_password=False)


def public_storage(url: str) -> str:
    """``url`` with its password removed (for outputs and tags)."""
    from sqlalchemy.engine import URL, make_url
    from sqlalchemy.exc import ArgumentError

    try:
        parsed = make_url(url)
    except ArgumentError:
        return url
    if parsed.password is None:
        return url
    # URL.set(password=None) leaves the password as it is (None means "unchanged"): rebuild it
    bare = URL.create(
        parsed.drivername,
        parsed.username,
        None,
        parsed.host,
        parsed.port,
        parsed.database,
        parsed.query,
    )
    return bare.render_as_string(hide_password=False)


def open_study(config: SearchConfig, study_name: str, storage_url: str) -> Any:
    """Create the study or load it; refuse one created for another grid/objective/profile."""
    import optuna

    storage = optuna.storages.RDBStorage(
        storage_url,
        heartbeat_interval=config.heartbeat or None,
        grace_period=2 * config.heartbeat if config.heartbeat else None,
        heartbeat_stale_trial_callback=requeue if config.heartbeat else None,
    )
    study = optuna.create_study(
        storage=storage,
        study_name=study_name,
        load_if_exists=True,
        direction="minimize",
        sampler=make_sampler(config),
        pruner=make_pruner(config),
    )
    identity = json.loads(json.dumps(config.identity()))
    stored = study.user_attrs.get("search")
    where = f"study {study_name!r} in {public_storage(storage_url)}"
    if stored is None:
        if study.trials:
            raise InputError(f"{where} was not made by ssmtl search; use another --study-name")
        study.set_user_attr("search", identity)
    elif stored != identity:
        diff = {
            k: (stored.get(k), identity.get(k))
            for k in sorted(set(stored) | set(identity))
            if stored.get(k) != identity.get(k)
        }
        raise InputError(
            f"{where} was created with other settings (stored, given): {diff}; "
            "use another --study-name or the same settings"
        )
    return study


def requeue(study: Any, trial: Any) -> None:
    """Queue a failed trial's point again: same params (and for the grid the same grid id, so the
    GridSampler does not count the point twice), a new trial number (Optuna's
    RetryFailedTrialCallback does the same)."""
    import optuna

    system_attrs = {
        k: v
        for k, v in trial.system_attrs.items()
        if k in ("grid_id", "search_space", "fixed_params")
    }
    system_attrs["retry_of"] = trial.number
    study.add_trial(
        optuna.trial.create_trial(
            state=optuna.trial.TrialState.WAITING,
            params=trial.params,
            distributions=trial.distributions,
            system_attrs=system_attrs,
        )
    )


def fail_stale_trials(study: Any, config: SearchConfig) -> list[int]:
    """Mark the trials left ``RUNNING`` by a killed process ``FAIL`` and queue their points again;
    returns their numbers. Without a heartbeat every RUNNING trial is stale (one worker); with one,
    only those whose heartbeat is older than the grace period (Optuna's own check)."""
    import optuna
    from optuna.trial import TrialState

    if config.heartbeat:
        running = (TrialState.RUNNING,)
        before = {t.number for t in study.get_trials(deepcopy=False, states=running)}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            optuna.storages.fail_stale_trials(study)  # calls requeue for each
        still = {t.number for t in study.get_trials(deepcopy=False, states=running)}
        return sorted(before - still)
    failed = []
    for trial in study.get_trials(deepcopy=True, states=(TrialState.RUNNING,)):
        # Not study.tell: it runs GridSampler.after_trial, which calls study.stop() once every grid
        # point was started, and Study.stop raises outside optimize(). Optuna's own
        # fail_stale_trials sets the state on the storage in the same way.
        try:
            study._storage.set_trial_state_values(trial._trial_id, state=TrialState.FAIL)
        except optuna.exceptions.UpdateFinishedTrialError:
            continue  # finished meanwhile
        requeue(study, trial)
        failed.append(trial.number)
    return failed


def point_of(trial: Any) -> tuple[int, float] | None:
    """The trial's ``(t, lam)``, or None before it suggested both."""
    if "t" in trial.params and "lam" in trial.params:
        return int(trial.params["t"]), float(trial.params["lam"])
    return None


def pending(study: Any, config: SearchConfig) -> int:
    """Trials still to run: grid points with no COMPLETE/PRUNED trial (queueing again the point of
    a failed trial that no queued or running trial covers), or the TPE budget left."""
    from optuna.trial import TrialState

    trials = study.get_trials(deepcopy=False)
    if config.sampler == "tpe":
        done = sum(t.state.name in DONE_STATES for t in trials)
        running = sum(t.state == TrialState.RUNNING for t in trials)
        return max(0, config.n_trials - done - running)
    by_point: dict[tuple[int, float], list] = {}
    for trial in trials:
        point = point_of(trial)
        if point is not None:
            by_point.setdefault(point, []).append(trial)
    count = 0
    for point in grid_points(config):
        states = {t.state for t in by_point.get(point, [])}
        if states & {TrialState.COMPLETE, TrialState.PRUNED}:
            continue
        if TrialState.RUNNING in states:  # another live worker (heartbeat mode) runs it
            continue
        if TrialState.WAITING not in states and TrialState.FAIL in states:
            requeue(study, max(by_point[point], key=lambda t: t.number))
        count += 1
    return count

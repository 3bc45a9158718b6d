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
  killed one. A worker with nothing left to start waits while other workers still run trials
  (failing and taking over one whose heartbeat stops), so the study ends complete.
* **No point twice.** Optuna's ``GridSampler`` hands out, once every point has started, a point
  another worker still runs, and neither its sampler nor ``enqueue`` is transactional.
  :class:`ExclusiveGridSampler` never hands out a point that has a ``COMPLETE``, ``PRUNED``,
  ``RUNNING`` or queued trial; for the race left (two workers choosing at the same instant) a
  trial checks, after its point is written, whether another live trial holds the point
  (:func:`duplicate_of`): the later one (a read after both writes sees the other) stops at
  once, ``FAIL`` with the user attribute ``duplicate_of``, trains nothing and is not counted
  (its point is taken up again if both stepped back).
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

import optuna
from optuna.trial import TrialState

from bench.errors import InputError
from bench.suite.search_config import DONE_STATES, GRID_SAMPLER_SEED, SearchConfig, grid_points

DUPLICATE_ATTR = "duplicate_of"


class DuplicatePoint(Exception):  # noqa: N818 - a trial outcome, not an error to report
    """Raised by the objective of a trial whose grid point another live trial holds: Optuna
    (``optimize(catch=...)``) records the trial ``FAIL``; nothing was trained."""


def is_duplicate(trial: Any) -> bool:
    """Whether the trial stepped back because another trial held its point."""
    return DUPLICATE_ATTR in trial.user_attrs


def make_sampler(config: SearchConfig) -> Any:
    """The paper's grid (a fixed seed: stored grid ids keep their meaning) or TPE."""
    if config.sampler == "grid":
        space = {"t": list(config.t_values), "lam": list(config.lams)}
        return ExclusiveGridSampler(space, seed=GRID_SAMPLER_SEED)
    return optuna.samplers.TPESampler(seed=config.seed)


_TAKEN_STATES = (TrialState.COMPLETE, TrialState.PRUNED, TrialState.RUNNING, TrialState.WAITING)


class ExclusiveGridSampler(optuna.samplers.GridSampler):
    """A ``GridSampler`` that never hands out a point held by another trial: one finished
    (``COMPLETE``/``PRUNED``), running or queued (a killed trial's retry). When every point is
    held (another worker took the last one meanwhile) it still has to give one; the trial's
    objective then finds the duplicate (:func:`duplicate_of`) and steps back."""

    def taken_grid_ids(self, study: Any, number: int = -1) -> set[int]:
        """Grid ids held by trials other than trial ``number``."""
        taken = set()
        for other in study._storage.get_all_trials(study._study_id, deepcopy=False):
            if other.number == number or other.state not in _TAKEN_STATES:
                continue
            if is_duplicate(other) or "grid_id" not in other.system_attrs:
                continue
            if self._same_search_space(other.system_attrs.get("search_space", {})):
                taken.add(int(other.system_attrs["grid_id"]))
        return taken

    def _get_unvisited_grid_ids(self, study: Any) -> list[int]:
        # GridSampler.after_trial stops optimize() when this is empty: nothing left to start
        return sorted(set(range(self._n_min_trials)) - self.taken_grid_ids(study))

    def before_trial(self, study: Any, trial: Any) -> None:
        if "grid_id" in trial.system_attrs or "fixed_params" in trial.system_attrs:
            return  # a queued retry: its point is fixed
        taken = self.taken_grid_ids(study, trial.number)
        free = sorted(set(range(self._n_min_trials)) - taken)
        if 0 <= trial.number < self._n_min_trials and trial.number in free:
            grid_id = trial.number  # GridSampler's own order on a fresh study
        else:
            # random among the free points (workers choosing at once rarely collide); none
            # free: a held one, which the objective finds a duplicate
            grid_id = int(self._rng.rng.choice(free or sorted(taken) or [0]))
        study._storage.set_trial_system_attr(trial._trial_id, "search_space", self._search_space)
        study._storage.set_trial_system_attr(trial._trial_id, "grid_id", grid_id)


def duplicate_of(trial: Any, point: tuple[int, float]) -> int | None:
    """The number of another trial that holds ``point`` (finished ``COMPLETE``/``PRUNED`` or
    running, not itself a duplicate), or None. Called after the trial's own point is in the
    storage: of two trials that took one point at the same instant, at least the later reader
    sees the other (at worst both step back and the point is handed out again)."""
    states = (TrialState.COMPLETE, TrialState.PRUNED, TrialState.RUNNING)
    for other in trial.study.get_trials(deepcopy=False, states=states):
        mine = other.number == trial.number
        if not mine and not is_duplicate(other) and point_of(other) == point:
            return other.number
    return None


def make_pruner(config: SearchConfig) -> Any:
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


def metric_name(config: SearchConfig) -> str:
    """The study's metric as dashboards show it: ``val_joint_loss_normalized``, ..."""
    return f"val_joint_loss_{config.objective}"


def open_study(config: SearchConfig, study_name: str, storage_url: str) -> Any:
    """Create the study or load it; refuse one created for another grid/objective/profile."""
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
    # Named, so optuna-dashboard and Optuna's plots label the axis (not "Objective Value").
    with warnings.catch_warnings():  # experimental in Optuna 3.2+, stable in use since
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        study.set_metric_names([metric_name(config)])
    identity = json.loads(json.dumps(config.identity()))
    stored = study.user_attrs.get("search")
    if stored is not None and "precision" not in stored:
        # a study stored before the identity held the precision resumes with its own trials
        identity.pop("precision")
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
    """Trials still to start here: grid points with no COMPLETE/PRUNED or running trial
    (queueing again the point of a failed trial that no queued or running trial covers;
    duplicates do not count), or the TPE budget left."""
    trials = study.get_trials(deepcopy=False)
    if config.sampler == "tpe":
        done = sum(t.state.name in DONE_STATES for t in trials)
        running = sum(t.state == TrialState.RUNNING for t in trials)
        return max(0, config.n_trials - done - running)
    by_point: dict[tuple[int, float], list] = {}
    for trial in trials:
        point = None if is_duplicate(trial) else point_of(trial)
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


def running_elsewhere(study: Any, config: SearchConfig) -> int:
    """Trials other workers run now (heartbeat mode; between optimize() rounds, no trial of
    this worker runs)."""
    if not config.heartbeat:
        return 0
    return len(study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)))

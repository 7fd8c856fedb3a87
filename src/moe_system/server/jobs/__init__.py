"""`/train`: background training jobs that run issue 3's trainer (`moe train`) and survive server restarts.

    curl -X POST localhost:8000/train -H 'Authorization: Bearer KEY' -d '{"recipe": "sql", "max_steps": 50}'
    curl localhost:8000/train/JOB_ID -H 'Authorization: Bearer KEY'     # status, progress, loss curve, result

A job is `python -m moe_system.cli train --recipe FILE --json` in a child process of its own session: training
never shares the server's event loop or decode thread, and a crash of the trainer (an OOM kill included) fails
the job, never the server. At most `server.max_training_jobs` children run at once; the other jobs wait, queued,
in the order they were submitted (a job also waits while another job trains the same `<expert>-<version>`,
since both would write one run folder).

A job's state is a row of `MOE_HOME/jobs/jobs.db` (`store`); its files live in `MOE_HOME/jobs/<job_id>/`:
`recipe.yaml` (the validated recipe it runs, data paths made absolute, so a later edit of a shipped recipe does
not change a submitted job), `settings.yaml` (the server's settings, which the trainer loads through
`MOE_CONFIG`), `train.log` (the trainer's stderr, every attempt) and `output.json` (its stdout: the `RunResult`).

A restart loses no job: a job a previous server left `running` is queued again (its trainer, if a crash left
it orphaned, is stopped first), and the trainer resumes the run from its last checkpoint, as `moe train` does
for a run of the same recipe. Queued jobs stay queued. The jobs of a release that kept their state in `job.json`
files are imported when the job store is first opened.

Progress comes from the run folder (`progress`): the loss curve, the step and, without `max_steps`, an estimate
of the step count (`max_steps_exact` says which). When a job ends, its points are copied into its row, so a later
run of the same recipe does not rewrite a finished job's curve.

Recipes (`recipes`): by name, the repository's `recipes/` and `MOE_HOME/recipes/` (GET /train/recipes lists
them), or a whole recipe uploaded as `recipe_yaml`, validated before the job is accepted; an uploaded recipe's
data files must lie under `MOE_HOME/datasets/` (relative paths resolve there). A job belongs to the key that
submitted it: other keys neither see nor cancel it (as conversations).

Modules: `store` (the job table), `recipes` (what may run, the request), `progress` (the run folder),
`processes` (the trainer processes), `supervisor` (`JobManager`), `routes` (the HTTP API).
"""

from moe_system.server.jobs.recipes import TrainRequest
from moe_system.server.jobs.routes import router
from moe_system.server.jobs.supervisor import JobManager

__all__ = ["JobManager", "TrainRequest", "router"]

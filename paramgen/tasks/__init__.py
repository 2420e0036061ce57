"""Tasks: what a zoo's weights are trained for and judged by (backbone, data, loss, metric)."""

from paramgen.tasks.classification import ClassificationTask, Labelled
from paramgen.tasks.protocol import BaseLoader, Task
from paramgen.tasks.resolve import resolve_task, task_spec

__all__ = ["BaseLoader", "ClassificationTask", "Labelled", "Task", "resolve_task", "task_spec"]

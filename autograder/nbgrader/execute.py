"""nbgrader's ``Execute``, made to score what ran when a notebook hangs or crashes.

Stock nbgrader 0.9.6 fails the whole submission when the kernel dies, and a cell that
ignores the interrupt sent at its timeout leaves the kernel busy, so every later cell waits
out its own timeout. :class:`RobustExecute` stops the notebook instead: once the kernel is
dead, or does not answer after a timeout, the remaining code cells are not run and each gets
an error output saying why. Their checks score 0; the checks that already ran keep their
points; the other students are not held up.
"""

from __future__ import annotations

from nbclient.exceptions import CellTimeoutError, DeadKernelError
from nbformat.notebooknode import NotebookNode
from nbgrader.preprocessors import Execute
from traitlets import Integer


class RobustExecute(Execute):
    """``Execute`` that stops at a dead or unresponsive kernel and marks the rest not run."""

    probe_timeout = Integer(
        5, help="seconds a kernel has to answer after a cell timed out and was interrupted"
    ).tag(config=True)

    _stopped = ""

    def preprocess(self, nb, resources=None, km=None):
        self._stopped = ""
        return super().preprocess(nb, resources, km)

    def _not_run(self, cell: NotebookNode) -> None:
        cell.outputs = [
            NotebookNode(
                output_type="error",
                ename="NotRun",
                evalue=self._stopped,
                traceback=[f"NotRun: {self._stopped}"],
            )
        ]

    def _kernel_answers(self) -> bool:
        """Whether the kernel replies to a kernel-info request within ``probe_timeout``."""
        timeout, self.timeout = self.timeout, self.probe_timeout
        try:
            return self.wait_for_reply(self.kc.kernel_info()) is not None
        except DeadKernelError:
            return False
        finally:
            self.timeout = timeout

    def preprocess_cell(self, cell, resources, index):
        if self._stopped:
            if cell.cell_type == "code":
                self._not_run(cell)
            return cell, resources
        try:
            cell, resources = super().preprocess_cell(cell, resources, index)
        except DeadKernelError:
            self._stopped = (
                f"not run: the kernel died in cell {index} (a crash, os._exit or running out "
                f"of memory)"
            )
            self._not_run(cell)
            return cell, resources
        except CellTimeoutError:
            # Raised (instead of an error output) when the kernel stays busy after the
            # interrupt and sends nothing more.
            if not self._kernel_answers():
                self._stopped = self._ignored_interrupt(index)
                self._not_run(cell)
                return cell, resources
            raise
        timed_out = any(
            o.get("output_type") == "error" and o.get("ename") == "CellTimeoutError"
            for o in cell.get("outputs", [])
        )
        if timed_out and not self._kernel_answers():
            self._stopped = self._ignored_interrupt(index)
        return cell, resources

    @staticmethod
    def _ignored_interrupt(index: int) -> str:
        return (
            f"not run: cell {index} ran past the time limit and ignored the interrupt, so the "
            f"notebook was stopped there"
        )


def autograde_preprocessors() -> list[type]:
    """nbgrader's autograde preprocessors with :class:`RobustExecute` in place of ``Execute``."""
    from nbgrader.converters import Autograde

    return [
        RobustExecute if p is Execute else p
        for p in Autograde.class_traits()["autograde_preprocessors"].default()
    ]

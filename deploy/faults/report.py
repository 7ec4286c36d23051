"""One row per fault, and the table they make."""

from dataclasses import dataclass

HEADERS = ("fault", "what happened", "time to recover", "data checked")


class FaultViolation(AssertionError):
    """The platform did not survive the fault as promised (the message says what was lost or wrong)."""


@dataclass(frozen=True)
class FaultResult:
    fault: str
    happened: str
    recover_s: float
    checked: str
    recovered_when: str = "recovered"

    def cells(self) -> tuple[str, str, str, str]:
        return self.fault, self.happened, f"{self.recover_s:.0f} s ({self.recovered_when})", self.checked


def table(results: list[FaultResult]) -> str:
    rows = [HEADERS, *(r.cells() for r in results)]
    widths = [max(len(row[i]) for row in rows) for i in range(len(HEADERS))]
    line = "-+-".join("-" * w for w in widths)
    text = [" | ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)) for row in rows]
    return "\n".join([text[0], line, *text[1:]])

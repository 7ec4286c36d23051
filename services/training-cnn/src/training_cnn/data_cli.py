"""`cnn-data`: write sample datasets in the real formats, and validate a dataset directory."""

from pathlib import Path
from typing import Annotated

import typer

from mlops_core.errors import DataValidationError
from mlops_core.logs import configure_logging
from training_cnn.data import load_splits
from training_cnn.datasets import DatasetName
from training_cnn.report import report

app = typer.Typer(help=__doc__, no_args_is_help=True, add_completion=False)

DatasetOpt = Annotated[DatasetName, typer.Option(help="Dataset format.")]
DEFAULT_SIZES = {DatasetName.MNIST: (1437, 360), DatasetName.CIFAR10: (5000, 1000)}


@app.callback()
def _main() -> None:
    configure_logging()


@app.command()
def generate(
    dataset: DatasetOpt,
    out: Annotated[Path, typer.Option(help="Directory to write the dataset files into.")],
    train_size: Annotated[
        int | None, typer.Option(min=1, help="Training images (default 1437 / 5000).")
    ] = None,
    test_size: Annotated[int | None, typer.Option(min=1, help="Test images (default 360 / 1000).")] = None,
    seed: Annotated[int, typer.Option(help="Seed for the sample generator.")] = 0,
) -> None:
    """Write sample data in the real on-disk format (MNIST IDX .gz files; CIFAR-10 binary batches)."""
    # Imported here so `validate` (a quick pre-flight step) does not pay for importing torch.
    from training_cnn.samples import generate_cifar10, generate_mnist

    default_train, default_test = DEFAULT_SIZES[dataset]
    writer = generate_mnist if dataset is DatasetName.MNIST else generate_cifar10
    try:
        files = writer(out, train_size or default_train, test_size or default_test, seed)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from exc
    for path in files:
        typer.echo(str(path))


@app.command()
def validate(
    dataset: DatasetOpt,
    data_dir: Annotated[Path, typer.Option(help="Dataset directory to check.")],
) -> None:
    """Read every file of the dataset and check formats and sizes; exit 3 naming the problem if bad."""
    try:
        splits = load_splits(dataset, data_dir)
    except DataValidationError as exc:
        typer.echo(f"invalid data: {exc}", err=True)
        raise typer.Exit(int(exc.exit_code)) from exc
    typer.echo(f"ok: {splits.describe()}")


app.command("report")(report)

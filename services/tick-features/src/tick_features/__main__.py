"""`python -m tick_features ...`, and the main file spark-submit runs in the spark-operator's driver pod."""

from tick_features.cli import app

if __name__ == "__main__":
    app()

"""Figures logged with every run: feature importance and forecast against actual consumption."""

import lightgbm as lgb
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import pandas as pd
from matplotlib.figure import Figure


def feature_importance(booster: lgb.Booster) -> Figure:
    gains = pd.Series(booster.feature_importance("gain"), index=booster.feature_name()).sort_values()
    fig, ax = plt.subplots(figsize=(7, max(3, 0.35 * len(gains))))
    gains.plot.barh(ax=ax, color="#3b75af")
    ax.set_xlabel("total gain")
    ax.set_title("Feature importance (gain)")
    fig.tight_layout()
    return fig


def forecast_vs_actual(
    actual: pd.Series, forecast: pd.Series, baseline: pd.Series, last: int = 24 * 14
) -> Figure:
    fig, ax = plt.subplots(figsize=(11, 4))
    window = actual.index[-last:]
    ax.plot(window, actual.loc[window], label="actual", color="black", linewidth=1.2)
    ax.plot(window, forecast.loc[window], label="LightGBM forecast", color="#d1495b", linewidth=1.0)
    ax.plot(
        window, baseline.loc[window], label="same hour last week", color="#999999", linewidth=0.8, alpha=0.8
    )
    ax.set_ylabel("global active power (kW)")
    ax.set_title("Test period: forecast vs actual")
    ax.legend(loc="upper right")
    fig.autofmt_xdate()
    fig.tight_layout()
    return fig

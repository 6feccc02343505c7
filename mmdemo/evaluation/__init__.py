"""Evaluation of fusion heads: metrics, modality ablation, strategy comparison, figures, report.

- :mod:`~mmdemo.training.metrics` (re-exported): accuracy, macro-F1, AUROC, confusion matrix;
- :mod:`~mmdemo.evaluation.evaluate`: scoring a classifier on a FeatureSet;
- :mod:`~mmdemo.evaluation.ablation`: scores with each modality removed;
- :mod:`~mmdemo.evaluation.compare`: :class:`Comparison` of several strategies;
- :mod:`~mmdemo.evaluation.plots`: matplotlib (Agg) figures;
- :mod:`~mmdemo.evaluation.report`: markdown + PNG report;
- :mod:`~mmdemo.evaluation.seeds`: the multi-seed study (baselines, intervals, paired tests);
- :mod:`~mmdemo.evaluation.stats`: mean, std, t-interval, paired t-test;
- :mod:`~mmdemo.evaluation.robustness`: accuracy under feature noise and missing modalities;
- :mod:`~mmdemo.evaluation.complexity`: parameters, times and memory of a head.
"""

from mmdemo.evaluation.ablation import AblationRow, ModalityAblation, modality_ablation
from mmdemo.evaluation.compare import (
    Comparison,
    ComparisonRow,
    Projection2D,
    StrategyReport,
    compare_heads,
    compare_results,
    pca_2d,
)
from mmdemo.evaluation.complexity import Complexity, measure_complexity
from mmdemo.evaluation.robustness import RobustnessPoint, corrupt, robustness_curves
from mmdemo.evaluation.seeds import SeedScore, SeedStudy
from mmdemo.evaluation.stats import PairedTest, SeedSummary, paired_t_test, summarise
from mmdemo.evaluation.evaluate import ModelEvaluation, evaluate_model, mean_contributions
from mmdemo.training.metrics import (
    ClassificationMetrics,
    accuracy,
    auroc,
    classification_metrics,
    confusion_matrix,
    macro_f1,
)
from mmdemo.evaluation.report import ReportFiles, comparison_markdown, score_table, write_report

__all__ = [
    "Complexity",
    "PairedTest",
    "RobustnessPoint",
    "SeedScore",
    "SeedStudy",
    "SeedSummary",
    "corrupt",
    "measure_complexity",
    "paired_t_test",
    "robustness_curves",
    "summarise",
    "AblationRow",
    "ClassificationMetrics",
    "Comparison",
    "ComparisonRow",
    "ModalityAblation",
    "ModelEvaluation",
    "Projection2D",
    "ReportFiles",
    "StrategyReport",
    "accuracy",
    "auroc",
    "classification_metrics",
    "compare_heads",
    "compare_results",
    "comparison_markdown",
    "confusion_matrix",
    "evaluate_model",
    "macro_f1",
    "mean_contributions",
    "modality_ablation",
    "pca_2d",
    "score_table",
    "write_report",
]

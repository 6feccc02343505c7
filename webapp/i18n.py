"""The page's own words in English and Simplified Chinese, through gradio's ``gr.I18n``.

A UI string is written in English in the code and wrapped in :func:`t`: the English text is its
translation key, and :data:`ZH_CN` holds its Chinese. Gradio sends the key to the browser, which
shows the table of the browser's language (``zh-CN``: Chinese; any other: English). Only the page's
static words are translated: model outputs, result values, choices passed to endpoints, endpoint
names and error messages stay as they are.

``--lang`` (``MMDEMO_LANG``) forces one language: gradio has no URL or cookie switch for it (its
front end takes ``navigator.language`` and falls back to ``en`` for any key a locale lacks), so a
forced language is given as the ``en`` table and as the ``zh-CN`` table (:func:`translations`).

The API description stays English (:func:`keep_api_labels_english`): gradio_client and MCP
callers see the same parameter labels as before.
"""

from __future__ import annotations

import json

from typing import Any

import gradio as gr
from gradio.i18n import I18nData

LANGS = ("auto", "en", "zh-CN")  # auto: the browser's language

ZH_CN: dict[str, str] = {
    # the page and its tabs
    "# mmdemo: a multimodal model playground": "# mmdemo：多模态模型演示场",
    "Captioning": "图像描述",
    "Image QA": "图像问答",
    "Classification": "分类",
    "Retrieval": "检索",
    "Fusion Lab": "融合实验室",
    "Examples": "示例",
    "Image": "图像",
    "Text": "文本",
    "Audio": "音频",
    # Captioning
    "Text prefix (optional: the caption continues it)": "文本前缀（可选：描述从它接着写）",
    "Decoding": "解码",
    "Strategy": "策略",
    "Captions (beam / sample)": "描述条数（束搜索 / 采样）",
    "Captions (greedy gives 1; choose beam or sample for more)": "描述条数（贪心只给 1 条；要更多请选束搜索或采样）",
    "Beams": "束宽",
    "Max new tokens": "最多新生成词元数",
    "top-p (sample)": "top-p（采样）",
    "Temperature (sample)": "温度（采样）",
    "Seed (sample)": "随机种子（采样）",
    "Caption": "描述",
    "All captions (best first)": "全部描述（最佳在前）",
    "Recognised ImageNet classes": "识别出的 ImageNet 类别",
    # Image QA
    "Question": "问题",
    "What colour is the shape?": "这个形状是什么颜色？",
    "Answer": "回答",
    "Confidence": "置信度",
    "Questions about this image": "关于这张图像的问题",
    # Classification
    "Zero-shot": "零样本",
    "Labels (comma-separated)": "标签（逗号分隔）",
    "Prompt template": "提示模板",
    "Classify": "分类",
    "Label probabilities": "标签概率",
    "Fusion head (text + image + audio)": "融合头（文本 + 图像 + 音频）",
    "A head trained in the Fusion Lab (or a bundled one). Any input may be left empty.":
        "在融合实验室训练的融合头（或内置的）。任何输入都可以留空。",
    "Fusion head (test accuracy)": "融合头（测试准确率）",
    "Contributions": "各模态贡献",
    # Retrieval
    "Query text": "查询文本",
    "…or query image": "……或查询图像",
    "…or query audio": "……或查询音频",
    "Top k": "前 k 个",
    "Return": "返回类型",
    "Search": "搜索",
    "Image results": "图像结果",
    "All results": "全部结果",
    "Gallery: add your own images, audio and texts": "图库：添加你自己的图像、音频和文本",
    "Images / audio / .txt files": "图像 / 音频 / .txt 文件",
    "Texts (one per line)": "文本（每行一条）",
    "Add to gallery": "加入图库",
    "Reset gallery": "重置图库",
    "Text queries": "文本查询",
    "Image queries": "图像查询",
    "Audio queries": "音频查询",
    # Fusion Lab
    "Data": "数据",
    "Bundled world: samples": "内置世界：样本数",
    "Upload: manifest (.csv/.jsonl) or .zip with its files": "上传：清单（.csv/.jsonl）或含其文件的 .zip",
    "Label columns (comma-separated; empty: all)": "标签列（逗号分隔；留空：全部）",
    "Fusion strategies": "融合策略",
    "Training settings": "训练设置",
    "Epochs": "轮数",
    "Batch size": "批大小",
    "Optimizer": "优化器",
    "Learning rate": "学习率",
    "LR schedule": "学习率调度",
    "Weight decay (L2)": "权重衰减（L2）",
    "Feature noise": "特征噪声",
    "Modality dropout": "模态丢弃",
    "Early-stopping patience (0: off)": "早停耐心轮数（0：关闭）",
    "Seed": "随机种子",
    "Seeds (seed, seed + 1, ...)": "种子个数（seed、seed + 1、……）",
    "Single-modality baselines": "单模态基线",
    "Train and compare": "训练并比较",
    "Choose the data and the strategies, then **Train and compare**; the figures below are interactive "
    "(hover for values, drag to pan, scroll to zoom, click a legend entry to pick a line). "
    "The zip holds the same figures as PNG.":
        "选择数据和策略，然后点击 **训练并比较**；下方图表可交互（悬停看数值，拖动平移，滚轮缩放，"
        "点击图例选中一条线）。zip 中有同样的 PNG 图。",
    "Task (a multi-task run: choose one)": "任务（多任务运行：选一个）",
    "Comparison": "比较",
    "Across seeds, with baselines and costs": "多种子汇总（含基线与开销）",
    "Trained heads + report (zip)": "训练好的融合头 + 报告（zip）",
    "PCA map of strategy": "PCA 图所用策略",
    "Robustness: corrupted modality": "鲁棒性：被破坏的模态",
    # the Explain panels
    "Explain: where in the image? (heatmap)": "解释：看的是图像的哪里？（热力图）",
    "Word of the caption": "描述中的词",
    "Label": "标签",
    "Hit of the last search": "上次搜索的结果",
    "Method (default: the best measured)": "方法（默认：实测最好的）",
    "Overlay opacity": "叠加不透明度",
    "Explain": "解释",
    "Offline preset: maps are Grad-CAM of the ImageNet classifier (the class behind the label, query or caption).":
        "离线预设：热力图是 ImageNet 分类器的 Grad-CAM（标签、查询或描述背后的类别）。",
    "Relevance overlay": "相关性叠加图",
    "Colour scale: least relevant (left) to most relevant (right)": "色标：最不相关（左）到最相关（右）",
    "Raw map (.npy, float32, the image's height x width)": "原始热力图（.npy，float32，图像的高 x 宽）",
    # preset notes
    "The bundled models know only the bundled shapes world (coloured circles, squares, triangles, stars): "
    "try the examples below; a real photo gets an answer about shapes. Start with `--preset offline` or "
    "`--preset pretrained` for real photos.":
        "内置模型只认识内置的形状世界（彩色的圆、方块、三角形、星形）：试试下面的示例；真实照片得到的也是关于形状的回答。"
        "要处理真实照片，请用 `--preset offline` 或 `--preset pretrained` 启动。",
    "Label-based caption from ImageNet classes (EfficientNet-Lite0), not a caption model.":
        "基于 ImageNet 类别（EfficientNet-Lite0）拼出的描述，不是描述模型生成的。",
}


def t(english: str) -> I18nData:
    """The UI string ``english`` as a translation key (shown in the browser's language).
    Raises KeyError for a string with no Chinese in :data:`ZH_CN` (add it there)."""
    if english not in ZH_CN:
        raise KeyError(f"No zh-CN translation for the UI string {english!r}; add it to webapp.i18n.ZH_CN")
    return I18nData(english)


I18N_TEXT_PREFIX = "__i18n__"  # how gradio writes an I18nData as text (I18nData.__str__)


def english(text: Any) -> Any:
    """The English of a UI string (the key of a :func:`t` value, also as the ``__i18n__{...}`` text a
    component such as ``gr.Markdown`` stores it as); anything else unchanged."""
    if isinstance(text, str) and text.startswith(I18N_TEXT_PREFIX):
        return json.loads(text[len(I18N_TEXT_PREFIX):])["key"]
    return text.key if isinstance(text, I18nData) else text


def translations(lang: str = "auto") -> gr.I18n:
    """The ``gr.I18n`` for ``launch``: ``auto`` the browser's language (Chinese for ``zh-CN``,
    English otherwise); ``en`` or ``zh-CN`` that language for every browser."""
    if lang not in LANGS:
        raise ValueError(f"Unknown language {lang!r}; choose one of {list(LANGS)}")
    en = {key: key for key in ZH_CN}
    if lang == "zh-CN":  # every locale falls back to en: the Chinese table under both names
        return gr.I18n(en=ZH_CN, **{"zh-CN": ZH_CN})
    if lang == "en":
        return gr.I18n(en=en, **{"zh-CN": en})
    return gr.I18n(en=en, **{"zh-CN": ZH_CN})


def _english_labels(info: Any) -> Any:
    if isinstance(info, dict):
        if set(info) == {"key", "_type"} and info["_type"] == "translation_metadata":
            return info["key"]
        return {name: _english_labels(value) for name, value in info.items()}
    if isinstance(info, list):
        return [_english_labels(value) for value in info]
    return english(info)


def keep_api_labels_english(demo: gr.Blocks) -> None:
    """``demo``'s API description (``/info``, ``view_api``, MCP) with each translated label as
    its English text, as it was before the page was translated."""
    get_api_info = demo.get_api_info

    def english_api_info(*args: Any, **kwargs: Any) -> Any:
        return _english_labels(get_api_info(*args, **kwargs))

    demo.get_api_info = english_api_info


def english_example_headers(demo: gr.Blocks) -> None:
    """The column headers of ``demo``'s example tables (``gr.Examples``) in English: gradio takes
    them from the inputs' labels, and its example table shows a translated label as its raw key
    data (gradio 6.31), not as the words."""
    for block in demo.blocks.values():
        if isinstance(block, gr.Dataset):
            block.headers = [english(header) for header in block.headers]

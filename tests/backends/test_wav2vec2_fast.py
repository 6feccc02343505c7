import pytest
import torch
from transformers import Wav2Vec2Config, Wav2Vec2ForCTC, Wav2Vec2Model

from mmdemo.backends.wav2vec2_fast import (
    TimeMajorFeatureEncoder,
    conv1d_time_major,
    supports_time_major,
    use_time_major_encoder,
)

TINY = dict(
    hidden_size=16, intermediate_size=32, num_hidden_layers=1, num_attention_heads=2,
    conv_dim=(8, 8, 8), conv_kernel=(10, 3, 2), conv_stride=(5, 2, 2), num_feat_extract_layers=3,
    num_conv_pos_embeddings=8, num_conv_pos_embedding_groups=2,
)


def _model(norm: str, conv_bias: bool = False) -> Wav2Vec2Model:
    torch.manual_seed(0)
    return Wav2Vec2Model(Wav2Vec2Config(**TINY, feat_extract_norm=norm, conv_bias=conv_bias)).eval()


@pytest.mark.parametrize("norm, conv_bias", [("group", False), ("layer", True)])
@pytest.mark.parametrize("batch", [1, 2])
def test_time_major_encoder_matches_transformers(norm, conv_bias, batch):
    model = _model(norm, conv_bias)
    audio = torch.randn(batch, 1999) * 0.5 + 0.1  # not zero-mean: the norm must centre it
    with torch.no_grad():
        expected = model.feature_extractor(audio)  # [B, C, T]
        fast = TimeMajorFeatureEncoder(model.feature_extractor)(audio)
    assert fast.shape == expected.shape
    torch.testing.assert_close(fast, expected, atol=2e-5, rtol=1e-4)


def test_swap_keeps_parameters_and_whole_model_output():
    model = _model("group")
    keys = set(model.state_dict())
    audio = torch.randn(1, 1600)
    with torch.no_grad():
        expected = model(audio).last_hidden_state
        assert use_time_major_encoder(model) and isinstance(model.feature_extractor, TimeMajorFeatureEncoder)
        assert use_time_major_encoder(model)  # a second swap is a no-op
        got = model(audio).last_hidden_state
    assert set(model.state_dict()) == keys
    torch.testing.assert_close(got, expected, atol=1e-4, rtol=1e-4)


def test_ctc_models_are_swapped_through_their_wav2vec2():
    torch.manual_seed(0)
    model = Wav2Vec2ForCTC(Wav2Vec2Config(**TINY, vocab_size=8)).eval()
    assert use_time_major_encoder(model)
    assert isinstance(model.wav2vec2.feature_extractor, TimeMajorFeatureEncoder)


def test_bfloat16_autocast_stays_close_to_float32():
    model = _model("group")
    fast = TimeMajorFeatureEncoder(model.feature_extractor)
    audio = torch.randn(1, 4000)
    with torch.no_grad():
        reference = model.feature_extractor(audio).flatten()
        with torch.autocast("cpu", dtype=torch.bfloat16):
            low = fast(audio).float().flatten()
    assert torch.nn.functional.cosine_similarity(reference, low, dim=0) > 0.999


def test_unsupported_convolutions_are_left_alone():
    model = _model("group")
    model.feature_extractor.conv_layers[1].conv.padding = (1,)
    assert not supports_time_major(model.feature_extractor)
    assert not use_time_major_encoder(model)
    with pytest.raises(ValueError, match="does not support"):
        TimeMajorFeatureEncoder(model.feature_extractor)


def test_audio_shorter_than_the_kernel_is_an_error():
    conv = torch.nn.Conv1d(1, 4, kernel_size=10, stride=5, bias=False)
    with pytest.raises(ValueError, match="too short"):
        conv1d_time_major(torch.randn(1, 9, 1), conv)

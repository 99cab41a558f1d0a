"""Convolutional layers: the projection against NumPy, the network against the LIF reference and
the brainpy.state twin, gradients across schedules and against the equivalent dense network
(EventProp), the architecture string, refusals, and saving."""

import brainstate
import brainunit as u
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import bsnn
from bsnn.projections import Conv2d, Dense, parse_arch
from reference import assert_pure_path_matches_brainpy, layer_grads, numpy_lif_layer


def numpy_conv(x, w, b, stride, pads, groups, pool):
    """x [B, H, W, C], w [kh, kw, C/g, O] (HWIO), zero padding ((top, bottom), (left, right)); then pooling."""
    (sh, sw), ((p0, p1), (q0, q1)) = stride, pads
    x = np.pad(x, ((0, 0), (p0, p1), (q0, q1), (0, 0)))
    B, H, W, C = x.shape
    kh, kw, cg, O = w.shape
    oh, ow = (H - kh) // sh + 1, (W - kw) // sw + 1
    y = np.zeros((B, oh, ow, O))
    og = O // groups
    for o in range(O):
        g = o // og
        for i in range(oh):
            for j in range(ow):
                patch = x[:, i * sh:i * sh + kh, j * sw:j * sw + kw, g * cg:(g + 1) * cg]
                y[:, i, j, o] = (patch * w[:, :, :, o]).sum((1, 2, 3))
    if b is not None:
        y = y + b
    if pool is None:
        return y
    kind, (k, _), (s, _) = pool
    ph, pw = (y.shape[1] - k) // s + 1, (y.shape[2] - k) // s + 1
    reduce = {"max": np.max, "avg": np.mean, "sum": np.sum}[kind]
    return np.stack([np.stack([reduce(y[:, i * s:i * s + k, j * s:j * s + k], axis=(1, 2)) for j in range(pw)], 1)
                     for i in range(ph)], 1)


CASES = [dict(kernel=3), dict(kernel=(3, 2), stride=2, padding=1), dict(kernel=3, padding="SAME", groups=2),
         dict(kernel=2, pool=("max", 2)), dict(kernel=3, padding=1, pool=("avg", 2)), dict(kernel=2, pool=("sum", 2, 1))]


@pytest.mark.parametrize("options", CASES, ids=lambda o: "-".join(f"{k}{v}" for k, v in o.items()))
def test_projection_matches_numpy_and_its_transpose_and_weight_gradient_are_its_derivatives(options):
    proj = Conv2d((7, 6, 2), 4, **options)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 3, proj.n_in)).astype(np.float32)       # [T, B, n_in]: any leading shape
    w = rng.standard_normal(proj.weight_shape).astype(np.float32)
    b = rng.standard_normal(proj.bias_shape).astype(np.float32)
    y = np.asarray(proj.apply(jnp.asarray(x), jnp.asarray(w), jnp.asarray(b)))
    ref = numpy_conv(x.reshape(6, 7, 6, 2).astype(np.float64), w, b, proj.stride, proj._pads(), proj.groups, proj.pool)
    assert y.shape == (2, 3, proj.n_out) and ref.shape[1:] == proj.out_shape
    np.testing.assert_allclose(y.reshape(ref.shape), ref, rtol=1e-5, atol=1e-5)
    g = rng.standard_normal(y.shape).astype(np.float32)
    _, vjp = jax.vjp(lambda x_, w_, b_: proj.apply(x_, w_, b_), jnp.asarray(x), jnp.asarray(w), jnp.asarray(b))
    gx, gw, gb = vjp(jnp.asarray(g))
    mine_w, mine_b = proj.weight_grad(jnp.asarray(x), jnp.asarray(g), jnp.asarray(w), jnp.asarray(b))
    np.testing.assert_allclose(mine_w, gw, rtol=1e-5, atol=1e-4)
    np.testing.assert_allclose(mine_b, gb, rtol=1e-5, atol=1e-4)
    if proj.linear:
        np.testing.assert_allclose(proj.transpose(jnp.asarray(g), jnp.asarray(w)), gx, rtol=1e-5, atol=1e-4)


def _images(T=12, B=3, shape=(8, 8, 2), rate=0.3, seed=1):
    rng = np.random.default_rng(seed)
    return jnp.asarray((rng.random((T, B, int(np.prod(shape)))) < rate).astype(np.float32))


def _model(arch="4c3-ap2-6", shape=(8, 8, 2), **kw):
    brainstate.random.seed(3)
    return bsnn.SpikingClassifier(arch, input_shape=shape, tau_syn=5 * u.ms, w_scale=kw.pop("w_scale", 6.0), **kw)


def test_network_matches_the_numpy_lif_reference_layer_by_layer():
    model = _model("4c3-mp2-5c2-6", readout="spiking")
    x = _images()
    out = model.run(x, record=True)
    inp = np.asarray(x, np.float64)
    for k, layer in enumerate(model.layers):
        w = layer.weights()
        drive = np.asarray(bsnn.network.project(jnp.asarray(inp, jnp.float32), w, layer.spec.projection), np.float64)
        c = layer.constants
        s, v = numpy_lif_layer(drive, float(c.alpha), float(c.beta), float(c.v_th))
        assert s.sum() > 5, f"layer {k} is silent: the test would say nothing"
        np.testing.assert_array_equal(np.asarray(out.layer_spikes[k]), s)
        np.testing.assert_allclose(np.asarray(out.layer_v[k]), v, atol=1e-4)
        inp = s


def test_identical_to_the_brainpy_state_twin_through_brainstate_conv2d():
    """The pure path's convolution and the layer's own ``brainstate.nn.Conv2d`` module step alike."""
    model = _model("4c3p1-mp2-3c3s2-5", readout="leaky")
    assert isinstance(model.layers[0].linear, brainstate.nn.Conv2d)
    assert_pure_path_matches_brainpy(model, _images(T=15))


def test_schedules_and_paths_give_the_same_gradients_and_the_fused_path_is_passed_over():
    model = _model("4c3-ap2-8-6", readout="leaky")
    plan = model.plan()          # a convolution layer fuses with a dense projection after it, as a dense layer does
    assert plan.paths[0] in ("native", "fused") and plan.paths[1] in ("native", "fused"), plan
    two = _model("4c3-3c2-6").plan()
    assert two.paths[0] == "adjoint" and "the next layer's projection is a conv2d" in str(two), two
    x, labels = _images(T=10), jnp.array([0, 3, 5])
    results = []
    for options in (dict(), dict(hoist=False), dict(remat=True)):
        loss, grads, _ = bsnn.BPTT("mean-membrane-ce", **options).loss_and_grads(model, x, labels)
        results.append((float(loss), layer_grads(model, grads)))
    g0 = results[0][1]
    assert np.abs(g0[0][0]).sum() > 0
    for loss, g in results[1:]:
        assert loss == pytest.approx(results[0][0], rel=1e-6)
        for a, b in zip(g0, g):
            for p, q in zip(a, b):
                if p is not None:
                    np.testing.assert_allclose(p, q, rtol=2e-4, atol=2e-6)


def test_a_constant_image_is_convolved_once_with_the_same_gradients_and_images_may_keep_their_shape():
    model = _model("4c3-ap2-6", readout="leaky")
    rng = np.random.default_rng(5)
    pixels = jnp.asarray(rng.random((3, 8, 8, 2)).astype(np.float32))
    labels = jnp.array([1, 2, 3])
    method = bsnn.BPTT("mean-membrane-ce")
    rep = bsnn.encode.Repeated(pixels, 10)                    # [T, B, H, W, C] as a constant input
    l1, g1, o1 = method.loss_and_grads(model, rep, labels)
    l2, g2, o2 = method.loss_and_grads(model, rep.dense().reshape(10, 3, -1), labels)
    assert float(l1) == pytest.approx(float(l2), rel=1e-6)
    np.testing.assert_array_equal(np.asarray(o1.counts[0]), np.asarray(o2.counts[0]))
    for a, b in zip(layer_grads(model, g1), layer_grads(model, g2)):
        np.testing.assert_allclose(a[0], b[0], rtol=1e-4, atol=1e-6)


def _dense_twin(model):
    """The same network with every convolution written out as its dense matrix."""
    dense = bsnn.SpikingClassifier(model.sizes, tau_syn=5 * u.ms, readout=model.readout)
    mats = []
    for src, dst in zip(model.layers, dense.layers):
        w = src.weights()
        if src.projection is None:
            mat, bias = w.w, w.b
        else:
            n = src.projection.n_in
            mat = src.projection.apply(jnp.eye(n), w.w)                   # row i: the image of input i
            bias = src.projection.apply(jnp.zeros((1, n)), w.w, w.b)[0]
        dst.linear.weight.value = {"weight": mat, "bias": bias}
        mats.append(mat)
    return dense


def test_eventprop_through_average_pooling_equals_eventprop_on_the_equivalent_dense_network():
    """A convolution is a sparse linear map: EventProp's gradient of the kernel is the dense network's
    EventProp gradient (itself checked against finite differences) carried back through that map."""
    model = _model("4c3-ap2-6", readout="leaky", w_scale=8.0)
    dense = _dense_twin(model)
    x, labels = _images(T=14, rate=0.4), jnp.array([0, 2, 4])
    method = bsnn.EventProp("mean-membrane-ce")
    loss, grads, out = method.loss_and_grads(model, x, labels)
    loss_d, grads_d, out_d = method.loss_and_grads(dense, x, labels)
    assert float(out.counts[0].sum()) > 10
    np.testing.assert_array_equal(np.asarray(out.spikes), np.asarray(out_d.spikes))
    assert float(loss) == pytest.approx(float(loss_d), rel=1e-5)
    mine, ref = layer_grads(model, grads), layer_grads(dense, grads_d)
    proj, w = model.layers[0].projection, model.layers[0].weights()
    n = proj.n_in
    _, back = jax.vjp(lambda k, b: (proj.apply(jnp.eye(n), k), proj.apply(jnp.zeros((1, n)), k, b)[0]), w.w, w.b)
    want_w, want_b = back((jnp.asarray(ref[0][0]), jnp.asarray(ref[0][1])))
    assert np.abs(want_w).sum() > 0
    np.testing.assert_allclose(mine[0][0], want_w, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(mine[0][1], want_b, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(mine[1][0], ref[1][0], rtol=1e-4, atol=1e-6)


def test_methods_that_cannot_train_a_layer_say_which_and_what_to_use():
    x, labels = _images(T=5), jnp.array([0, 1, 2])
    with pytest.raises(ValueError, match=r"layer 0 is a conv2d .*use bptt"):
        bsnn.EProp("membrane-sum-ce").loss_and_grads(_model(), x, labels)
    with pytest.raises(ValueError, match=r"layer 0 .*pools by max, which is not linear; use average"):
        bsnn.EventProp("mean-membrane-ce").loss_and_grads(_model("4c3-mp2-6"), x, labels)
    with pytest.raises(ValueError, match="cannot be recurrent"):
        _model("4c3-8-6", recurrent=True)


@pytest.mark.parametrize("arch, shape, message", [
    ("12c5-mp2-64c5", (28, 28, 1), "ends in a convolution"),
    ("mp2-10", (28, 28, 1), "a pooling follows a convolution token"),
    ("12x5-10", (28, 28, 1), "'12x5' is not a layer"),
    ("12c5-10", None, "needs image inputs"),
    ("12c30-10", (28, 28, 1), "does not fit a 28x28 input"),
    ("12c5-mp2-mp2-10", (28, 28, 1), "a pooling follows a convolution token"),
    ("6c3g4-10", (8, 8, 2), "groups must divide"),
    ("64-8c3-10", (8, 8, 1), "needs image inputs"),
])
def test_architecture_errors_name_the_token(arch, shape, message):
    with pytest.raises(ValueError, match=message):
        parse_arch(arch, shape)


def test_the_tutorial_6_architecture_and_saving_a_conv_model(tmp_path):
    projs = parse_arch("12c5-mp2-64c5-mp2-10", (28, 28))
    assert [p.out_shape for p in projs] == [(12, 12, 12), (4, 4, 64), (10,)]
    assert isinstance(projs[-1], Dense) and projs[-1].n_in == 1024
    model = _model("4c3-ap2-6", readout="spiking", neuron="alif")
    x = _images(T=8)
    path = bsnn.save_model(model, tmp_path / "conv.bsnn")
    back = bsnn.load_model(path)
    assert back.arch == "4c3-ap2-6" and back.input_shape == (8, 8, 2) and back.layers[0].kind.name == "alif"
    np.testing.assert_array_equal(np.asarray(back.run(x).spikes), np.asarray(model.run(x).spikes))
    with pytest.raises(ValueError, match="input_shape is the image shape"):
        bsnn.SpikingClassifier([4, 3], input_shape=(2, 2))


def test_plots_show_the_feature_maps_of_convolutional_layers(tmp_path):
    model = _model("4c3-ap2-6", readout="leaky")
    paths = bsnn.plot.sample_figures(model, _images(T=6, B=1), [], str(tmp_path), label=0)
    names = sorted(p.rsplit("/", 1)[-1] for p in paths)
    assert names == ["feature_maps.png", "membrane.png", "raster.png"]
    assert (tmp_path / "feature_maps.png").stat().st_size > 3000
    with pytest.raises(ValueError, match=r"\[H, W, C\]"):
        bsnn.plot.feature_maps([("flat", np.zeros((3, 4)))], str(tmp_path / "x.png"))


@pytest.mark.parametrize("flags, message", [
    (["--arch", "8c3-10", "--hidden", "32"], "--arch 8c3-10 gives every layer; it replaces --hidden"),
    (["--arch", "8c3-12"], "end the architecture with -10"),
    (["--arch", "8c3-10", "--method", "eprop"], "layer 0 is a conv2d"),
    (["--arch", "8c3-10", "--recurrent"], "--recurrent: the convolution layers"),
    (["--arch", "8c3-mp2-10", "--method", "eventprop"], "pools by max"),
    (["--arch", "8x3-10"], "'8x3' is not a layer"),
    (["--dataset", "randman", "--arch", "8c3-10"], "convolutions need image data"),
])
def test_the_command_line_refuses_what_cannot_work_before_writing_anything(flags, message, tmp_path, capsys):
    from bsnn.cli import main
    out = tmp_path / "run"
    args = ["train", "--out", str(out), "--quiet"] + (["--dataset", "digits"] if "--dataset" not in flags else []) + flags
    with pytest.raises(SystemExit) as stop:
        main(args)
    err = capsys.readouterr().err
    assert stop.value.code == 2 and message in err and "Traceback" not in err, err
    assert not out.exists()

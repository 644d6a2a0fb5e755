"""src.classifiers beyond tests/experiments/test_domain_adaptation.py: LeNet's layout for other
channel/class counts, predict/evaluate against hand-made labels, augmentation per batch and its
seed, training's errors and mode handling, the tracker's state."""
import numpy as np
import pytest
import torch

from src.classifiers import (KnnAccuracyTracker, LeNet, evaluate, extract_features, map_features, predict,
                             train_classifier)
from src.icnn import DenseICNN

torch.set_num_threads(1)


def test_lenet_layout_for_other_channels_and_classes():
    net = LeNet(num_classes=5, in_channels=3)
    assert net(torch.rand(2, 3, 28, 28)).shape == (2, 5)
    assert net.fc1.in_features == 16 * 4 * 4 and net.conv1.in_channels == 3
    n_params = sum(p.numel() for p in net.parameters())
    # conv1 3·6·25+6, conv2 6·16·25+16, fc1 256·120+120, fc2 120·84+84, fc3 84·5+5
    assert n_params == (3 * 6 * 25 + 6) + (6 * 16 * 25 + 16) + (256 * 120 + 120) + (120 * 84 + 84) + (84 * 5 + 5)
    with pytest.raises(ValueError, match=r"\[N, 3, 28, 28\], got \[2, 1, 28, 28\]"):
        net.features(torch.rand(2, 1, 28, 28))


def test_predict_is_the_argmax_and_evaluate_the_fraction_right():
    torch.manual_seed(0)
    net = LeNet()
    X = torch.rand(23, 1, 28, 28, dtype=torch.float64)        # cast to float32 batch by batch
    with torch.no_grad():
        expected = net(X.float()).argmax(1)
    pred = predict(net, X, batch_size=5)
    assert pred.dtype == torch.long and pred.device.type == "cpu" and torch.equal(pred, expected)
    y = expected.clone()
    y[:4] = (y[:4] + 1) % 10                                   # 4 of 23 labels wrong
    assert evaluate(net, X, y, batch_size=7) == pytest.approx(19 / 23)
    assert evaluate(net, X, y.numpy()) == pytest.approx(19 / 23)   # labels may be an array


def test_augmentation_is_applied_per_batch_with_a_seeded_generator():
    torch.manual_seed(0)
    net = LeNet()
    X = torch.rand(12, 1, 28, 28)
    calls = []

    def flip(batch, generator):
        calls.append((len(batch), type(generator).__name__))
        return batch.flip(-1)

    f = extract_features(net, X, batch_size=5, progress=False, augment=flip)
    assert calls == [(5, "Generator"), (5, "Generator"), (2, "Generator")]
    torch.testing.assert_close(f, extract_features(net, X.flip(-1), progress=False))

    def noisy(batch, generator):
        return batch + 0.1 * torch.randn(batch.shape, generator=generator)

    a = predict(net, X, augment=noisy, seed=1)
    b = predict(net, X, augment=noisy, seed=1)
    fa = extract_features(net, X, augment=noisy, seed=1, progress=False)
    fb = extract_features(net, X, augment=noisy, seed=2, progress=False)
    assert torch.equal(a, b) and not torch.equal(fa, fb)


def test_inputs_are_checked():
    net = LeNet()
    with pytest.raises(TypeError, match="expected a torch.Tensor of images, got ndarray"):
        extract_features(net, np.zeros((2, 1, 28, 28), np.float32), progress=False)
    with pytest.raises(ValueError, match="no images given"):
        predict(net, torch.zeros(0, 1, 28, 28))
    with pytest.raises(ValueError, match="5 images but 4 labels"):
        evaluate(net, torch.zeros(5, 1, 28, 28), torch.zeros(4))


def test_training_mode_is_restored_by_inference_and_left_off_by_training():
    net = LeNet().train()
    extract_features(net, torch.rand(3, 1, 28, 28), progress=False)
    predict(net, torch.rand(3, 1, 28, 28))
    assert net.training
    X, y = torch.rand(8, 1, 28, 28), torch.arange(8) % 10
    calls = []

    def count(batch, generator):
        calls.append(len(batch))
        return batch

    hist = train_classifier(net, X, y, epochs=2, batch_size=3, progress=False, augment=count)
    assert calls == [3, 3, 2] * 2 and not net.training
    assert hist["epoch"] == [1, 2] and all(0 <= a <= 1 for a in hist["accuracy"])
    # the same seed (and the same initial weights) give the same training run; another seed does not
    runs = []
    for seed in (3, 3, 4):
        torch.manual_seed(0)
        runs.append(train_classifier(LeNet(), X, y, epochs=1, batch_size=4, seed=seed, progress=False)["loss"])
    assert runs[0] == runs[1] != runs[2]


def test_training_stops_on_a_non_finite_loss():
    X = torch.rand(4, 1, 28, 28)
    X[0, 0, 0, 0] = float("nan")
    with pytest.raises(RuntimeError, match="loss is nan in epoch 1; lower lr"):
        train_classifier(LeNet(), X, torch.zeros(4, dtype=torch.long), epochs=1, progress=False)


def test_map_features_returns_float32_on_the_cpu():
    torch.manual_seed(0)
    D = DenseICNN(4, [8], dropout=0.0, strong_convexity=1.0)
    f = torch.randn(7, 4, dtype=torch.float64)
    out = map_features(D, f, batch_size=3)
    assert out.dtype == torch.float32 and out.device.type == "cpu" and out.shape == (7, 4)
    torch.testing.assert_close(out, D.push_nograd(f.float()))


def test_knn_tracker_state_round_trip_and_k():
    torch.manual_seed(0)
    D = DenseICNN(3, [4], dropout=0.0, strong_convexity=1.0)
    with torch.no_grad():                        # ψ = ½‖x‖²: ∇ψ is the identity, the features stay as they are
        for p in D.parameters():
            p.zero_()
    ref = torch.tensor([[0.0, 0, 0], [1.0, 0, 0], [1.1, 0, 0], [5.0, 0, 0], [5.1, 0, 0]])
    ref_y = torch.tensor([0, 1, 1, 1, 1])
    query, query_y = torch.tensor([[0.2, 0, 0], [5.05, 0, 0]]), torch.tensor([1, 1])
    torch.testing.assert_close(map_features(D, query), query)
    one = KnnAccuracyTracker(ref, ref_y, {"q": (query, query_y)}, every=2)
    three = KnnAccuracyTracker(ref, ref_y, {"q": (query, query_y)}, every=2, k=3)
    # the first query: its nearest neighbour says 0 (wrong), its 3 nearest vote 0, 1, 1 (right);
    # the second query is right either way
    assert one.evaluate(D) == {"q": 0.5} and three.evaluate(D) == {"q": 1.0}
    one(1, D, D, {})
    one(2, D, D, {})
    state = one.state_dict()
    assert state == {"iteration": [1, 2], "q": [0.5, 0.5]}
    state["q"].append(9.0)                       # a copy, not the live history
    assert one.history["q"] == [0.5, 0.5]
    fresh = KnnAccuracyTracker(ref, ref_y, {"q": (query, query_y)})
    fresh.load_state_dict(state)
    assert fresh.history == {"iteration": [1, 2], "q": [0.5, 0.5, 9.0]}

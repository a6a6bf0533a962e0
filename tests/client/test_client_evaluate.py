"""``python -m client evaluate``: accuracy and latency of a labelled image folder, over gRPC and REST."""

from __future__ import annotations

import csv
import re

import cv2
import numpy as np
import pytest
from contract_model import target_of

from client import ServingClient
from client.cli import main
from client.errors import InputError
from client.evaluate import evaluate_folder, read_labelled_folder

IMAGE_COUNT = 8
SUMMARY = re.compile(
    r"^(grpc|rest): (\d+) images, accuracy ([0-9.]+), latency per call p50 ([0-9.]+) ms p99 ([0-9.]+) ms, (\d+) images/s$"
)


def write_folder(folder, images: np.ndarray, labels: list[int]) -> None:
    rows = []
    for index, (image, label) in enumerate(zip(images, labels)):
        name = f"{index:05d}_{label}.png"
        cv2.imwrite(str(folder / name), image)
        rows.append((name, label, f"class {label}"))
    with (folder / "labels.csv").open("w", newline="") as stream:
        writer = csv.writer(stream)
        writer.writerow(("file", "label_id", "label_name"))
        writer.writerows(rows)


@pytest.fixture(scope="module")
def half_right_folder(tmp_path_factory, served):
    """Eight images labelled with the model's own prediction for the first half and a wrong class after."""
    images = np.random.default_rng(3).integers(0, 256, size=(IMAGE_COUNT, 28, 28), dtype=np.uint8)
    with ServingClient(served.grpc_target) as grpc_client:
        predicted = grpc_client.predict("mnist", images[..., None])["probabilities"].argmax(axis=1)
    labels = [int(p) if i < IMAGE_COUNT // 2 else int((p + 1) % 10) for i, p in enumerate(predicted)]
    folder = tmp_path_factory.mktemp("labelled")
    write_folder(folder, images, labels)
    return folder


@pytest.mark.parametrize("transport", ["grpc", "rest"])
def test_evaluate_prints_accuracy_latency_and_throughput(capsys, served, half_right_folder, transport):
    where = ["--server", served.grpc_target] if transport == "grpc" else ["--rest", served.rest_url]
    code = main(["evaluate", "--model", "mnist", *where, "--images", str(half_right_folder), "--batch-size", "3"])
    out, err = capsys.readouterr()
    assert code == 0, err
    match = SUMMARY.match(out.strip())
    assert match, out
    assert match.group(1) == transport and int(match.group(2)) == IMAGE_COUNT
    assert float(match.group(3)) == pytest.approx(0.5)
    assert float(match.group(4)) <= float(match.group(5))


def test_batches_cover_every_image_once(served, half_right_folder):
    with ServingClient(target_of(served, "rest"), "rest") as rest_client:
        evaluation = evaluate_folder(rest_client, "mnist", read_labelled_folder(half_right_folder), batch_size=3)
    assert len(evaluation.batch_latencies_ms) == 3
    assert (evaluation.images, evaluation.correct) == (IMAGE_COUNT, IMAGE_COUNT // 2)


def test_limit_takes_the_first_rows(half_right_folder):
    limited = read_labelled_folder(half_right_folder, limit=2)
    assert [image.path.name[:5] for image in limited] == ["00000", "00001"]


def test_folder_without_labels_csv_is_a_clear_error(capsys, served, tmp_path):
    code = main(["evaluate", "--model", "mnist", "--server", served.grpc_target, "--images", str(tmp_path)])
    assert code == 2
    assert "has no labels.csv" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("file,label\nx.png,1\n", "lacks the columns ['label_id']"),
        ("file,label_id\nmissing.png,1\n", "line 2:"),
        ("file,label_id\n", "lists no images"),
    ],
)
def test_bad_labels_csv_names_the_problem(tmp_path, content, message):
    (tmp_path / "labels.csv").write_text(content)
    with pytest.raises(InputError, match=re.escape(message)):
        read_labelled_folder(tmp_path)


def test_non_integer_label_names_its_line(tmp_path):
    cv2.imwrite(str(tmp_path / "a.png"), np.zeros((28, 28), np.uint8))
    (tmp_path / "labels.csv").write_text("file,label_id\na.png,shoe\n")
    with pytest.raises(InputError, match=r"line 2: label_id 'shoe' is not an integer"):
        read_labelled_folder(tmp_path)

from PIL import Image

from tfvision.visualization.training_curves import plot_training_curves


def test_plot_reads_csv_history_and_writes_png(tmp_path):
    csv_path = tmp_path / "history.csv"
    csv_path.write_text(
        "epoch,accuracy,learning_rate,loss,val_accuracy,val_loss\n"
        "0,0.5,0.001,1.2,0.55,1.1\n"
        "1,0.8,0.001,0.6,0.75,0.7\n"
    )
    history = plot_training_curves(str(csv_path), str(tmp_path / "curves.png"))
    assert history["val_accuracy"] == [0.55, 0.75] and history["loss"] == [1.2, 0.6]
    with Image.open(tmp_path / "curves.png") as image:
        assert image.format == "PNG" and image.width > image.height  # two panels side by side

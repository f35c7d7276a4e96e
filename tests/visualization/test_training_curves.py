from PIL import Image

from tfvision.visualization.training_curves import plot_training_curves, read_history_epochs


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


def test_validation_map_every_other_epoch_gets_its_own_panel_at_its_epochs(tmp_path):
    csv_path = tmp_path / "history.csv"
    csv_path.write_text(
        "epoch,loss,val_loss,val_map,val_map50\n"
        "0,1.2,1.1,NA,NA\n"
        "1,0.6,0.7,0.25,0.5\n"
        "2,0.5,0.6,NA,NA\n"
        "3,0.4,0.5,0.375,0.625\n"
    )
    assert read_history_epochs(str(csv_path))["val_map"] == ([2, 4], [0.25, 0.375])
    history = plot_training_curves(str(csv_path), str(tmp_path / "curves.png"))
    assert history["val_map50"] == [0.5, 0.625] and history["loss"] == [1.2, 0.6, 0.5, 0.4]
    with Image.open(tmp_path / "curves.png") as image:
        assert image.width == 1000  # loss, then the validation-only panel: 2 x 5 in at 100 dpi

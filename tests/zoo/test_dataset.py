import torch
from torch.utils.data import DataLoader

from zoo.dataset import ZooDataset
from zoo.store import Zoo


def test_dataloader_workers_read_the_same_rows_as_the_store(zoo_path, schema):
    params = torch.randn(40, schema.dim, generator=torch.Generator().manual_seed(3))
    with Zoo.open(zoo_path, "a") as zoo:
        zoo.group("lora/toy/rot").append(params, conditions={"angle": torch.arange(40.0)})
    dataset = ZooDataset(zoo_path, "lora/toy/rot", selection=slice(0, 40, 2))
    assert len(dataset) == 20
    loader = DataLoader(dataset, batch_size=8, num_workers=2, shuffle=False)
    batches = list(loader)
    rows = torch.cat([b["row"] for b in batches])
    assert rows.tolist() == list(range(0, 40, 2))
    torch.testing.assert_close(
        torch.cat([b["params"] for b in batches]), params[::2], rtol=0, atol=0
    )
    angles = torch.cat([b["conditions"]["angle"] for b in batches])
    assert angles.tolist() == [float(i) for i in range(0, 40, 2)]

"""The two perception networks of Dolphin's MNIST SumN and HWF programs (same layers and sizes as
the released experiments; random weights)."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class MNISTNet(nn.Module):
    """Scallop's and Dolphin's MNIST digit CNN: 28x28 -> 10-way softmax."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 32, kernel_size=5)
        self.conv2 = nn.Conv2d(32, 64, kernel_size=5)
        self.fc1 = nn.Linear(1024, 1024)
        self.fc2 = nn.Linear(1024, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.max_pool2d(self.conv1(x), 2)
        x = F.max_pool2d(self.conv2(x), 2)
        x = F.relu(self.fc1(x.view(-1, 1024)))
        x = F.dropout(x, p=0.5, training=self.training)
        return F.softmax(self.fc2(x), dim=1)


class SymbolNet(nn.Module):
    """Dolphin's HWF symbol CNN: 45x45 -> 14-way softmax (10 digits, + - * /)."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 32, 3, stride=1, padding=1)
        self.conv2 = nn.Conv2d(32, 64, 3, stride=1, padding=1)
        self.fc1 = nn.Linear(30976, 128)
        self.fc1_bn = nn.BatchNorm1d(128)
        self.fc2 = nn.Linear(128, 14)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.max_pool2d(self.conv2(F.relu(self.conv1(x))), 2)
        x = F.dropout(x, p=0.25, training=self.training)
        x = F.relu(self.fc1_bn(self.fc1(torch.flatten(x, 1))))
        x = F.dropout(x, p=0.5, training=self.training)
        return F.softmax(self.fc2(x), dim=1)

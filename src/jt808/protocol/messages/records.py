"""Tachograph, e-waybill, driver identity, CAN bus: 0x8700, 0x0700, 0x8701, 0x0701, 0x0702, 0x0705."""

from __future__ import annotations

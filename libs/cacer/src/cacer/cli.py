def main() -> None:
    raise SystemExit("cer: not built yet")

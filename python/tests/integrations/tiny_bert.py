"""A BERT with one small layer, built from a config (no download), and a Trainer that trains
it a few steps on CPU on token sequences whose label decides which ids they hold."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from framework_helpers import framework


def _model_and_data() -> Any:
    torch = framework("torch", "torch")
    transformers = framework("transformers", "transformers")
    torch.manual_seed(0)
    config = transformers.BertConfig(
        vocab_size=40,
        hidden_size=16,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=32,
        max_position_embeddings=16,
        num_labels=2,
    )
    model = transformers.BertForSequenceClassification(config)
    examples: list[dict[str, Any]] = []
    for index in range(32):
        label = index % 2
        ids = torch.randint(1, 20, (8,)) + 20 * label
        examples.append(
            {"input_ids": ids, "attention_mask": torch.ones(8, dtype=torch.long), "labels": torch.tensor(label)}
        )
    return model, examples


def tiny_bert_trainer(output_dir: str | Path, callback: Any, max_steps: int = 6) -> Any:
    transformers = framework("transformers", "transformers")
    model, examples = _model_and_data()
    args = transformers.TrainingArguments(
        output_dir=str(output_dir),
        max_steps=max_steps,
        per_device_train_batch_size=4,
        per_device_eval_batch_size=8,
        learning_rate=5e-3,
        logging_steps=2,
        eval_strategy="steps",
        eval_steps=3,
        save_strategy="no",
        report_to="none",
        use_cpu=True,
        disable_tqdm=True,
        dataloader_num_workers=0,
    )
    return transformers.Trainer(
        model=model, args=args, train_dataset=examples, eval_dataset=examples[:16], callbacks=[callback]
    )

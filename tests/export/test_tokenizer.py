from export.tokenizer import CLIP_MAX_LENGTH, offline_clip_tokenizer


def test_offline_tokenizer_reproduces_clip_token_ids():
    tokenizer = offline_clip_tokenizer()
    # Ids of openai/clip-vit-large-patch14 for this text (start 49406, "a" 320, "photo" 1125, "of" 539, end 49407).
    assert tokenizer("a photo of a red sofa")["input_ids"] == [49406, 320, 1125, 539, 320, 736, 15723, 49407]
    assert len(tokenizer) == 49408
    assert tokenizer.model_max_length == CLIP_MAX_LENGTH


def test_tokenizer_pads_and_truncates_to_77(tmp_path):
    tokenizer = offline_clip_tokenizer()
    tokenizer.save_pretrained(tmp_path)
    from transformers import CLIPTokenizer

    reloaded = CLIPTokenizer.from_pretrained(tmp_path)
    ids = reloaded(["sofa", "word " * 200], padding="max_length", max_length=77, truncation=True).input_ids
    assert [len(row) for row in ids] == [77, 77]
    assert ids[0][:3] == [49406, 15723, 49407] and ids[0][3:] == [49407] * 74
    assert ids[1][-1] == 49407

#!/usr/bin/python3
"""Writes a small CLIP BPE tokenizer in the exact `tokenizer.json` format of Hugging Face's
CLIPTokenizerFast (openai/clip-vit-base-patch32), with reference ids from OpenAI CLIP's own
`simple_tokenizer.py` algorithm, re-implemented below (the real 49,408-entry vocabulary is not on
any registry this project can reach, so the merges are learned here from a small corpus).

    /usr/bin/python3 packages/vision/scripts/make_clip_tokenizer_fixture.py

Output: packages/vision/test/fixtures/clip-tokenizer/{tokenizer.json, reference.json}.
The vocabulary is laid out like CLIP's: the 256 byte symbols, the same with `</w>`, one entry per
merge, then `<|startoftext|>` and `<|endoftext|>` (the largest id, as in CLIP).
Test texts are ASCII (so Python's `re` can stand in for the `regex` module's \\p{L} / \\p{N}).
"""
import collections
import html
import json
import os
import re

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'test', 'fixtures', 'clip-tokenizer')
NUM_MERGES = 400

CORPUS = """a photo of a cat. a photo of a dog. a photo of a red bicycle leaning on a wall.
a close-up photo of the small blue bird sitting on a branch. an illustration of two people talking.
the quick brown fox jumps over the lazy dog. there are three apples and four oranges on the table.
a painting of a mountain landscape at sunset, with a lake and some trees in the foreground.
it's a rainy day in the city; people are walking with umbrellas. we've seen this photo before.
this is a picture of a large white building with many windows and a flag on top.
a black and white photograph of an old car parked in front of a house.
a diagram showing the structure of a plant cell, with labels. a screenshot of a web page.
they're playing football in the park. she'll be there at 10 o'clock. i'm reading a book.""" * 3


def bytes_to_unicode():
    bs = list(range(ord('!'), ord('~') + 1)) + list(range(ord('¡'), ord('¬') + 1)) + list(range(ord('®'), ord('ÿ') + 1))
    cs = bs[:]
    n = 0
    for b in range(2 ** 8):
        if b not in bs:
            bs.append(b)
            cs.append(2 ** 8 + n)
            n += 1
    return dict(zip(bs, [chr(c) for c in cs]))


BYTE_ENCODER = bytes_to_unicode()
# simple_tokenizer.py's pattern, with \p{L} -> [a-zA-Z] and \p{N} -> [0-9] (ASCII texts only)
PAT = re.compile(r"""<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|[a-zA-Z]+|[0-9]|[^\sa-zA-Z0-9]+""", re.IGNORECASE)


def clean(text):
    text = html.unescape(html.unescape(text)).strip()
    return re.sub(r'\s+', ' ', text).strip().lower()


def words_of(text):
    return [''.join(BYTE_ENCODER[b] for b in token.encode('utf-8')) for token in PAT.findall(clean(text))]


def learn_merges(corpus):
    counts = collections.Counter(words_of(corpus))
    words = {w: tuple(w[:-1]) + (w[-1] + '</w>',) for w in counts}
    merges = []
    for _ in range(NUM_MERGES):
        pairs = collections.Counter()
        for w, symbols in words.items():
            for a, b in zip(symbols, symbols[1:]):
                pairs[(a, b)] += counts[w]
        if not pairs:
            break
        best = max(pairs.items(), key=lambda kv: (kv[1], kv[0]))[0]
        merges.append(best)
        for w, symbols in words.items():
            out, i = [], 0
            while i < len(symbols):
                if i < len(symbols) - 1 and (symbols[i], symbols[i + 1]) == best:
                    out.append(symbols[i] + symbols[i + 1])
                    i += 2
                else:
                    out.append(symbols[i])
                    i += 1
            words[w] = tuple(out)
    return merges


def get_pairs(word):
    return set(zip(word, word[1:]))


def bpe(token, ranks):
    """simple_tokenizer.SimpleTokenizer.bpe, verbatim in behaviour."""
    word = tuple(token[:-1]) + (token[-1] + '</w>',)
    pairs = get_pairs(word)
    if not pairs:
        return [token + '</w>']
    while True:
        bigram = min(pairs, key=lambda pair: ranks.get(pair, float('inf')))
        if bigram not in ranks:
            break
        first, second = bigram
        new_word, i = [], 0
        while i < len(word):
            try:
                j = word.index(first, i)
                new_word.extend(word[i:j])
                i = j
            except ValueError:
                new_word.extend(word[i:])
                break
            if word[i] == first and i < len(word) - 1 and word[i + 1] == second:
                new_word.append(first + second)
                i += 2
            else:
                new_word.append(word[i])
                i += 1
        word = tuple(new_word)
        if len(word) == 1:
            break
        pairs = get_pairs(word)
    return list(word)


def main():
    os.makedirs(OUT, exist_ok=True)
    merges = learn_merges(CORPUS)
    symbols = list(BYTE_ENCODER.values())
    vocab_list = symbols + [s + '</w>' for s in symbols] + [a + b for a, b in merges]
    vocab_list += ['<|startoftext|>', '<|endoftext|>']
    vocab = {}
    for token in vocab_list:
        if token not in vocab:
            vocab[token] = len(vocab)
    ranks = {pair: i for i, pair in enumerate(merges)}
    sot, eot = vocab['<|startoftext|>'], vocab['<|endoftext|>']
    special = lambda id_, content: {'id': id_, 'content': content, 'single_word': False, 'lstrip': False, 'rstrip': False, 'normalized': True, 'special': True}
    tokenizer = {
        'version': '1.0',
        'truncation': None,
        'padding': None,
        'added_tokens': [special(sot, '<|startoftext|>'), special(eot, '<|endoftext|>')],
        'normalizer': {'type': 'Sequence', 'normalizers': [
            {'type': 'NFC'},
            {'type': 'Replace', 'pattern': {'Regex': '\\s+'}, 'content': ' '},
            {'type': 'Lowercase'}]},
        'pre_tokenizer': {'type': 'Sequence', 'pretokenizers': [
            {'type': 'Split', 'pattern': {'Regex': "<\\|startoftext\\|>|<\\|endoftext\\|>|'s|'t|'re|'ve|'m|'ll|'d|[\\p{L}]+|[\\p{N}]|[^\\s\\p{L}\\p{N}]+"},
             'behavior': 'Removed', 'invert': True},
            {'type': 'ByteLevel', 'add_prefix_space': False, 'trim_offsets': True, 'use_regex': False}]},
        'post_processor': {'type': 'RobertaProcessing', 'sep': ['<|endoftext|>', eot], 'cls': ['<|startoftext|>', sot],
                           'trim_offsets': False, 'add_prefix_space': False},
        'decoder': {'type': 'ByteLevel', 'add_prefix_space': True, 'trim_offsets': True, 'use_regex': True},
        'model': {'type': 'BPE', 'dropout': None, 'unk_token': '<|endoftext|>', 'continuing_subword_prefix': '',
                  'end_of_word_suffix': '</w>', 'fuse_unk': False, 'byte_fallback': False,
                  'vocab': vocab, 'merges': [f'{a} {b}' for a, b in merges]},
    }
    with open(os.path.join(OUT, 'tokenizer.json'), 'w') as f:
        json.dump(tokenizer, f, ensure_ascii=False)
    texts = [
        'a photo of a cat.',
        'A Photo   of a RED bicycle, leaning on a wall!',
        "it's 10 o'clock; they're walking (with umbrellas) & we've seen 2024 photos...",
        'zebra quokka xylophone',
        'the painting of a mountain landscape at sunset',
        '  leading and trailing spaces  ',
        'a ' + 'very ' * 80 + 'long caption',
    ]
    encoded = []
    for text in texts:
        ids = [vocab[piece] for word in words_of(text) for piece in bpe(word, ranks)]
        # clip.tokenize(truncate=True): [sot] + ids + [eot], cut to 77 keeping eot last
        row = [sot] + ids + [eot]
        if len(row) > 77:
            row = row[:77]
            row[-1] = eot
        encoded.append(row)
    with open(os.path.join(OUT, 'reference.json'), 'w') as f:
        json.dump({'format': 'llm2clip.clip-tokenizer-reference', 'version': 1,
                   'generator': 'packages/vision/scripts/make_clip_tokenizer_fixture.py',
                   'bos_token_id': sot, 'eos_token_id': eot, 'vocab_size': len(vocab), 'context_length': 77,
                   'texts': texts, 'ids': encoded}, f, indent=1)
        f.write('\n')
    print(f'vocab {len(vocab)}, merges {len(merges)}')


if __name__ == '__main__':
    main()

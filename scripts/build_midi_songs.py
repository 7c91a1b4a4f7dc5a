"""Build midi_songs/, the default training data, from the corpus that ships with music21.

In:  the scores inside the installed music21 package (nothing is downloaded).
Out: one .mid file per piece in --out (default midi_songs/), and a README.md there
     that lists every file with its composer, title and source, and says which
     scores were left out and why.

Two kinds of music go in, all of it public domain:

* every keyboard work in the corpus (music for one player at the piano), written as it is,
  dynamics included: music21 turns markings such as p, f and accents into velocities;
* Bach's four-part chorales arranged for two hands: soprano and alto in the right
  hand, tenor and bass in the left. They are short, but there are about four hundred
  of them, and they give the network most of its examples.

Run it from the project root; running it twice gives byte-identical files:

    python scripts/build_midi_songs.py
"""

import argparse
import multiprocessing
import pathlib
import re
import time
import warnings

from music21 import corpus, instrument, midi, note, repeat, stream
from music21.midi import translate

REBUILD_COMMAND = "python scripts/build_midi_songs.py"

# The keyboard works, chosen by reading every score's parts and instruments.
# music21's metadata is often empty or just the file name, so composer and title
# are written out here. Everything else in the corpus is left out on purpose:
# string quartets (Beethoven, Haydn, Mozart, Robert Schumann), songs and choruses
# with piano (Beach, Handel, Schubert, Robert Schumann, Liliuokalani), other
# chamber music (Clara Schumann's trio, Weber, Corelli, Webern), unaccompanied
# vocal music (Palestrina, Monteverdi, Josquin, the trecento, J. R. Johnson),
# folk-song melodies, lead sheets and music21's demonstration files.
# Each entry: (corpus path, output name, composer, title).
KEYBOARD_WORKS = [
    ("bach/bwv846.mxl", "bach_bwv846", "Johann Sebastian Bach",
     "Prelude in C major, BWV 846 (The Well-Tempered Clavier, Book I)"),
    ("chopin/mazurka06-2.krn", "chopin_mazurka_op6_no2", "Frédéric Chopin",
     "Mazurka in C-sharp minor, Op. 6 No. 2"),
    ("cpebach/h186.mxl", "cpebach_h186_mvmt2", "Carl Philipp Emanuel Bach",
     "Sonata in A major, H. 186 (Wq. 55/4): II. Poco adagio"),
    ("joplin/maple_leaf_rag.mxl", "joplin_maple_leaf_rag", "Scott Joplin",
     "Maple Leaf Rag"),
    ("mozart/k545/movement1_exposition.mxl", "mozart_k545_mvmt1", "Wolfgang Amadeus Mozart",
     "Piano Sonata in C major, K. 545: I. Allegro (exposition)"),
    ("schoenberg/opus19/movement2.mxl", "schoenberg_op19_no2", "Arnold Schoenberg",
     "Six Little Piano Pieces, Op. 19: No. 2"),
    ("schoenberg/opus19/movement6.mxl", "schoenberg_op19_no6", "Arnold Schoenberg",
     "Six Little Piano Pieces, Op. 19: No. 6"),
    ("schumann_clara/polonaise_op1n1.mxl", "schumann_clara_polonaise_op1_no1", "Clara Schumann",
     "Polonaise, Op. 1 No. 1"),
    ("schumann_clara/polonaise_op1n2.mxl", "schumann_clara_polonaise_op1_no2", "Clara Schumann",
     "Polonaise, Op. 1 No. 2"),
    ("schumann_clara/polonaise_op1n3.mxl", "schumann_clara_polonaise_op1_no3", "Clara Schumann",
     "Polonaise, Op. 1 No. 3"),
    ("schumann_clara/polonaise_op1n4.mxl", "schumann_clara_polonaise_op1_no4", "Clara Schumann",
     "Polonaise, Op. 1 No. 4"),
    ("verdi/laDonnaEMobile.mxl", "verdi_la_donna_e_mobile", "Giuseppe Verdi",
     "La donna è mobile (Rigoletto), arranged for piano"),
]

# Which chorale voices each hand plays, and the order the hands are written in.
HANDS = {"Right hand": ("Soprano", "Alto"), "Left hand": ("Tenor", "Bass")}
CHORALE_FORMATS = (".mxl", ".xml", ".krn")  # preferred first where a chorale comes in several


def chorale_paths():
    """Return the corpus paths of Bach's chorales, one file per chorale, sorted.

    The bach/ folder holds only chorales apart from the Prelude BWV 846; a few come
    twice (as MusicXML and as Humdrum), and we keep the first format in CHORALE_FORMATS.
    """
    files_by_name = {}
    for path in corpus.getComposer("bach"):
        path = pathlib.Path(path)
        if path.stem.startswith("bwv") and path.stem != "bwv846":
            files_by_name.setdefault(path.stem, []).append(path.suffix)
    return [f"bach/{name}{min(suffixes, key=CHORALE_FORMATS.index)}"
            for name, suffixes in sorted(files_by_name.items())]


def arrange_for_two_hands(chorale):
    """Return a two-part piano score: soprano and alto in one part, tenor and bass in the other."""
    # Part names start with the voice ("Soprano", or "Soprano Oboe 1 Violin 1" where
    # instruments double it); instrument-only parts such as trumpets are not used.
    parts_by_voice = {}
    for part in chorale.parts:
        parts_by_voice.setdefault(part.partName.split()[0], []).append(part)
    wanted = [name for pair in HANDS.values() for name in pair]
    if any(len(parts_by_voice.get(name, [])) != 1 for name in wanted):
        raise ValueError("not one part per voice (soprano, alto, tenor, bass); parts are "
                         + ", ".join(part.partName for part in chorale.parts))
    voices = {name: parts_by_voice[name][0] for name in wanted}
    score = stream.Score()
    for hand_name, voice_names in HANDS.items():
        hand = stream.Part()
        hand.partName = hand_name
        hand.insert(0, instrument.Piano())
        # Key, metre and any tempo marks go to the MIDI tempo track; one copy is enough.
        for mark in voices[voice_names[0]].flatten().getElementsByClass(
                ["KeySignature", "TimeSignature", "MetronomeMark"]):
            hand.insert(mark.offset, mark)
        # Where both voices sing the same pitch at the same moment a pianist strikes
        # one key, so keep only the first of them.
        struck = set()
        for voice_name in voice_names:
            # Join tied notes within each voice first, so a tie never links two voices.
            for sung_note in voices[voice_name].flatten().stripTies().notes:
                for pitch in sung_note.pitches:
                    key = (sung_note.offset, pitch.midi)
                    if key not in struck:
                        struck.add(key)
                        hand.insert(sung_note.offset,
                                    note.Note(pitch, quarterLength=sung_note.quarterLength))
        score.insert(0, hand)
    return score


def to_midi_bytes(score):
    """Return (MIDI file bytes, note) for a score; the note says if repeats were not played.

    music21 plays repeats out in full when it writes MIDI, as a performer would. A few
    scores have repeat signs it cannot follow; those are written once through, as printed.
    """
    try:
        return translate.music21ObjectToMidiFile(score).writestr(), ""
    except repeat.ExpanderException:
        # Without measures there are no repeat signs left for music21 to expand.
        printed_once = stream.Score([part.flatten() for part in score.parts])
        return (translate.music21ObjectToMidiFile(printed_once).writestr(),
                "music21 cannot follow its repeat signs, so it is played once through")


def struck_notes(midi_bytes):
    """Return every (tick, MIDI pitch) where a note starts in a MIDI file, all tracks, sorted."""
    midi_file = midi.MidiFile()
    midi_file.readstr(midi_bytes)
    notes = []
    for track in midi_file.tracks:
        tick = 0
        for event in track.events:
            if event.isDeltaTime():
                tick += event.time
            elif event.isNoteOn() and event.velocity > 0:
                notes.append((tick, event.pitch))
    return tuple(sorted(notes))


def build_one(job):
    """Parse, arrange and encode one score; return a result dict (never raises)."""
    corpus_path, name, composer, title, is_chorale = job
    result = {"source": corpus_path, "name": name, "composer": composer, "title": title,
              "midi": None, "note": ""}
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # music21 warns about harmless layout details
            score = corpus.parse(corpus_path, forceSource=True)
            if is_chorale:
                score = arrange_for_two_hands(score)
            result["midi"], result["note"] = to_midi_bytes(score)
        result["notes"] = struck_notes(result["midi"])
        # Distinct onset times approximate the token count of the faithful encoding,
        # where each note is one token and notes starting together make one chord token.
        result["onsets"] = len({tick for tick, _ in result["notes"]})
    except Exception as error:  # one bad score must not stop the build
        result["midi"] = None
        result["note"] = f"{type(error).__name__}: {error}"
    return result


def list_jobs():
    """Return every score to build, keyboard works first, as (path, name, composer, title, is_chorale)."""
    jobs = [(path, name, composer, title, False) for path, name, composer, title in KEYBOARD_WORKS]
    known_titles = corpus.chorales.ChoraleList().byBWV  # titles for BWV 250-438 only
    for path in chorale_paths():
        catalogue = pathlib.Path(path).stem[len("bwv"):]  # "269", "1.6", "248.9-1"
        name = "chorale_bwv" + re.sub(r"[^a-z0-9]+", "_", catalogue.lower())
        title = f"Chorale BWV {catalogue}"
        if catalogue.isdigit() and int(catalogue) in known_titles:
            title += f": {known_titles[int(catalogue)]['title']}"
        title += ", arranged for two hands"
        jobs.append((path, name, "Johann Sebastian Bach", title, True))
    return jobs


def write_readme(out_dir, written, left_out, total_onsets):
    """Write README.md: what is in the folder, where it came from, and how to rebuild it."""
    lines = [
        "# midi_songs",
        "",
        "The default training data: public-domain keyboard music and Bach chorales,",
        "all taken from the corpus of scores that is installed with music21.",
        "",
        "Keyboard works are exported as music21 reads them, with their dynamics turned",
        "into note velocities and their repeats played out. Bach's four-part chorales are",
        "arranged for two hands: soprano and alto in the right hand, tenor and bass in",
        "the left. Where both voices of a hand sing the same note at the same moment it",
        "is struck once.",
        "",
        f"{len(written)} files, about {total_onsets:,} tokens in the faithful encoding",
        "(one token per note, one per chord of notes that start together).",
        "",
        "Rebuild the folder, byte for byte, from the project root with:",
        "",
        f"    {REBUILD_COMMAND}",
        "",
        "## Licence",
        "",
        "The compositions are in the public domain. The encodings come from the music21",
        "corpus, which music21 distributes for free use (see the corpus licence that ships",
        "with music21; some encodings ask not to be used commercially).",
        "",
        f"## Left out ({len(left_out)})",
        "",
    ]
    if not left_out:
        lines.append("Every score was written.")
    for result in left_out:
        lines.append(f"- `{result['source']}`: {result['note']}")
    lines += ["", "## Files", "",
              "| File | Composer | Title | Source (music21 corpus) | Note |",
              "| --- | --- | --- | --- | --- |"]
    for result in written:
        lines.append(f"| {result['name']}.mid | {result['composer']} | {result['title']} "
                     f"| `{result['source']}` | {result['note']} |")
    (out_dir / "README.md").write_text("\n".join(lines) + "\n", encoding="utf-8")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="midi_songs", help="folder to write the .mid files into")
    parser.add_argument("--workers", type=int, default=multiprocessing.cpu_count(),
                        help="parallel processes; the output is the same for any number")
    args = parser.parse_args()
    out_dir = pathlib.Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)

    started = time.monotonic()
    jobs = list_jobs()
    print(f"Building {len(jobs)} scores into {out_dir}/ with {args.workers} processes")
    # imap returns results in the order of the jobs, whichever process finishes first.
    with multiprocessing.Pool(args.workers) as pool:
        results = list(pool.imap(build_one, jobs, chunksize=4))

    # A few chorales are in the corpus twice under different numbers; keep the first
    # copy only, so the same music cannot land in both training and validation.
    first_with_notes = {}
    for result in results:
        if result["midi"] is not None:
            first = first_with_notes.setdefault(result["notes"], result)
            if first is not result:
                result["midi"] = None
                result["note"] = f"same notes as {first['source']}"
    written = [result for result in results if result["midi"] is not None]
    left_out = [result for result in results if result["midi"] is None]
    for result in written:
        (out_dir / f"{result['name']}.mid").write_bytes(result["midi"])
        if result["note"]:
            print(f"  {result['source']}: {result['note']}")
    for result in left_out:
        print(f"  left out {result['source']}: {result['note']}")

    # Remove .mid files from earlier builds that this build did not write.
    written_names = {f"{result['name']}.mid" for result in written}
    for stale in sorted(out_dir.glob("*.mid")):
        if stale.name not in written_names:
            stale.unlink()
            print(f"  removed stale {stale.name}")

    total_onsets = sum(result["onsets"] for result in written)
    write_readme(out_dir, written, left_out, total_onsets)
    total_bytes = sum(len(result["midi"]) for result in written)
    print(f"Wrote {len(written)} files ({total_bytes / 1e6:.1f} MB), left out {len(left_out)}, "
          f"about {total_onsets:,} faithful tokens, in {time.monotonic() - started:.0f} s")


if __name__ == "__main__":
    main()

"""Build midi_songs/, the default training data, from the corpus that ships with music21.

In:  the scores inside the installed music21 package (nothing is downloaded).
Out: one folder per composer in --out (default midi_songs/), one .mid file per piece
     in it (midi_songs/bach/chorale_bwv101_7.mid), and a README.md that lists every
     file with its composer, title and source, and says which scores were left out and why.

The folder is the composer's identity: the training code reads the folder name as
the label, so every file of one composer lies in that composer's folder.

Three kinds of music go in, all of it public domain:

* every keyboard work in the corpus (music for one player at the piano), written as it is,
  dynamics included: music21 turns markings such as p, f and accents into velocities;
* Bach's four-part chorales arranged for two hands: soprano and alto in the right
  hand, tenor and bass in the left. They are short, but there are about four hundred;
* ensemble music arranged for two hands the same way, the voices split between the
  hands by range: string quartets (Beethoven, Haydn, Mozart, Robert Schumann), madrigals
  (Monteverdi), mass movements (Palestrina, a subset), chansons (Josquin), a trio sonata
  (Corelli), a piano trio (Clara Schumann) and a song (Robert Schumann).

Left out on purpose: composers with a single ensemble score in the corpus (Amy Beach,
Handel, Schubert, J. R. Johnson, Liliuokalani, Weber, Webern, Ciconia, Luca, Lusitano),
since one score is too little to stand for a composer; the trecento folder (many
composers in one folder); folk-song collections, lead sheets, demonstration files and
theory exercises; and files that are not notes music21 reads (Monteverdi's Roman-numeral
analyses, Finale files).

Run it from the project root; running it twice gives byte-identical files:

    python scripts/build_midi_songs.py
    python scripts/build_midi_songs.py --palestrina 300   # more Palestrina
"""

import argparse
import multiprocessing
import pathlib
import re
import time
import warnings

from music21 import common, corpus, instrument, midi, note, repeat, stream, volume
from music21.midi import translate

REBUILD_COMMAND = "python scripts/build_midi_songs.py"

# The corpus holds about 1,300 Palestrina mass movements, about twice as much music as
# all the rest together. 150 of them make Palestrina about as large as Bach's chorales
# (about 35,000 tokens each), so that the small preset can still train on all of
# midi_songs/ in about an hour.
PALESTRINA_MOVEMENTS = 150

# The composer folders, in the order the README lists them, with each composer's full name.
COMPOSERS = {
    "bach": "Johann Sebastian Bach",
    "beethoven": "Ludwig van Beethoven",
    "chopin": "Frédéric Chopin",
    "corelli": "Arcangelo Corelli",
    "cpebach": "Carl Philipp Emanuel Bach",
    "haydn": "Joseph Haydn",
    "joplin": "Scott Joplin",
    "josquin": "Josquin des Prez",
    "monteverdi": "Claudio Monteverdi",
    "mozart": "Wolfgang Amadeus Mozart",
    "palestrina": "Giovanni Pierluigi da Palestrina",
    "schoenberg": "Arnold Schoenberg",
    "schumann_clara": "Clara Schumann",
    "schumann_robert": "Robert Schumann",
    "verdi": "Giuseppe Verdi",
}

# How a score becomes music for two hands.
AS_WRITTEN = "as written"  # a keyboard work: written as music21 reads it
CHORALE = "chorale"  # a Bach chorale: its soprano, alto, tenor and bass, split by range
BY_RANGE = "by range"  # any other ensemble score: all its parts, split by range

# The keyboard works, chosen by reading every score's parts and instruments.
# music21's metadata is often empty or just the file name, so titles are written out here.
# Each entry: (corpus path, composer folder, output name, title).
KEYBOARD_WORKS = [
    ("bach/bwv846.mxl", "bach", "bwv846",
     "Prelude in C major, BWV 846 (The Well-Tempered Clavier, Book I)"),
    ("chopin/mazurka06-2.krn", "chopin", "mazurka_op6_no2",
     "Mazurka in C-sharp minor, Op. 6 No. 2"),
    ("cpebach/h186.mxl", "cpebach", "h186_mvmt2",
     "Sonata in A major, H. 186 (Wq. 55/4): II. Poco adagio"),
    ("joplin/maple_leaf_rag.mxl", "joplin", "maple_leaf_rag", "Maple Leaf Rag"),
    ("mozart/k545/movement1_exposition.mxl", "mozart", "k545_mvmt1",
     "Piano Sonata in C major, K. 545: I. Allegro (exposition)"),
    ("schoenberg/opus19/movement2.mxl", "schoenberg", "op19_no2",
     "Six Little Piano Pieces, Op. 19: No. 2"),
    ("schoenberg/opus19/movement6.mxl", "schoenberg", "op19_no6",
     "Six Little Piano Pieces, Op. 19: No. 6"),
    ("schumann_clara/polonaise_op1n1.mxl", "schumann_clara", "polonaise_op1_no1",
     "Polonaise, Op. 1 No. 1"),
    ("schumann_clara/polonaise_op1n2.mxl", "schumann_clara", "polonaise_op1_no2",
     "Polonaise, Op. 1 No. 2"),
    ("schumann_clara/polonaise_op1n3.mxl", "schumann_clara", "polonaise_op1_no3",
     "Polonaise, Op. 1 No. 3"),
    ("schumann_clara/polonaise_op1n4.mxl", "schumann_clara", "polonaise_op1_no4",
     "Polonaise, Op. 1 No. 4"),
    ("verdi/laDonnaEMobile.mxl", "verdi", "la_donna_e_mobile",
     "La donna è mobile (Rigoletto), arranged for piano"),
]

# The ensemble works arranged by range. A corpus path may be one file or a folder of
# movements (movement1, movement2, ...); a whole folder of the corpus takes every
# piece in it. A title of None means: music21's title of each piece, or one read
# from its path where music21 has none.
# Each entry: (composer folder, corpus path, title).
ENSEMBLE_WORKS = [
    ("beethoven", "beethoven/opus18no1", "String Quartet in F major, Op. 18 No. 1"),
    ("beethoven", "beethoven/opus18no3", "String Quartet in D major, Op. 18 No. 3"),
    ("beethoven", "beethoven/opus18no4", "String Quartet in C minor, Op. 18 No. 4"),
    ("beethoven", "beethoven/opus18no5", "String Quartet in A major, Op. 18 No. 5"),
    ("beethoven", "beethoven/opus59no1", "String Quartet in F major, Op. 59 No. 1"),
    ("beethoven", "beethoven/opus59no2", "String Quartet in E minor, Op. 59 No. 2"),
    ("beethoven", "beethoven/opus59no3", "String Quartet in C major, Op. 59 No. 3"),
    ("beethoven", "beethoven/opus74", "String Quartet in E-flat major, Op. 74 (Harp)"),
    ("beethoven", "beethoven/opus132", "String Quartet in A minor, Op. 132"),
    ("beethoven", "beethoven/opus133", "Große Fuge in B-flat major, Op. 133, for string quartet"),
    ("corelli", "corelli/opus3no1/1grave", "Trio Sonata in F major, Op. 3 No. 1: I. Grave"),
    ("haydn", "haydn/opus1no1", "String Quartet in B-flat major, Op. 1 No. 1"),
    ("haydn", "haydn/opus74no1", "String Quartet in C major, Op. 74 No. 1"),
    ("josquin", "josquin", None),
    ("monteverdi", "monteverdi", None),
    ("mozart", "mozart/k80", "String Quartet in G major, K. 80"),
    ("mozart", "mozart/k155", "String Quartet in D major, K. 155"),
    ("mozart", "mozart/k156", "String Quartet in G major, K. 156"),
    ("mozart", "mozart/k458", "String Quartet in B-flat major, K. 458 (The Hunt)"),
    ("schumann_clara", "schumann_clara/opus17", "Piano Trio in G minor, Op. 17"),
    ("schumann_robert", "schumann_robert/dichterliebe_no2",
     "Dichterliebe, Op. 48: No. 2, Aus meinen Tränen sprießen (voice and piano)"),
    ("schumann_robert", "schumann_robert/opus41no1", "String Quartet in A minor, Op. 41 No. 1"),
    # The same song as dichterliebe_no2 in another encoding: the build keeps the first.
    ("schumann_robert", "schumann_robert/opus48no2",
     "Dichterliebe, Op. 48: No. 2, Aus meinen Tränen sprießen (voice and piano)"),
]

# Which chorale voices are arranged; the arrangement splits them between the hands by range.
CHORALE_VOICES = ("Soprano", "Alto", "Tenor", "Bass")
# Score formats music21 reads, preferred first where a piece comes in several.
SCORE_FORMATS = (".mxl", ".musicxml", ".xml", ".krn", ".abc")


# --- Choosing the scores ----------------------------------------------------------

def corpus_files(folder):
    """Return the corpus paths of the scores in one folder of the corpus, one file per piece, sorted.

    In:  a composer's folder of the music21 corpus, such as "bach".
    Out: paths such as "bach/bwv101.7.mxl". A piece that comes in several formats
         (MusicXML and Humdrum) is kept once, in the first format in SCORE_FORMATS;
         files in other formats (analyses, Finale files) are skipped, and so are
         older encodings kept beside the current one ("madrigal.3.1_old.mxl").
    """
    corpus_root = pathlib.Path(common.getCorpusFilePath())
    formats_by_piece = {}
    for path in corpus.getComposer(folder):
        path = pathlib.Path(path).relative_to(corpus_root)
        if path.suffix in SCORE_FORMATS and not path.stem.endswith("_old"):
            formats_by_piece.setdefault((path.parent / path.stem).as_posix(), []).append(path.suffix)
    return [piece + min(suffixes, key=SCORE_FORMATS.index)
            for piece, suffixes in sorted(formats_by_piece.items())]


def work_files(work_path):
    """Return the corpus paths of one work: the file itself, or every piece in its folder."""
    return [path for path in corpus_files(work_path.split("/")[0])
            if path.rsplit(".", 1)[0] == work_path or path.startswith(work_path + "/")]


def evenly_spaced(paths, count):
    """Return `count` of the paths, spread evenly over the list, in its order (all if fewer)."""
    # The first paths alone, in sorted order, would all be Agnus Dei movements;
    # spreading the choice takes Kyries, Glorias, Credos and Sanctus too.
    if count >= len(paths):
        return list(paths)
    return [paths[index * len(paths) // count] for index in range(count)]


def output_name(corpus_path):
    """Return a file name for a corpus path: "beethoven/opus18no1/movement2.mxl" -> "op18_no1_mvmt2"."""
    name = corpus_path.split("/", 1)[1].rsplit(".", 1)[0]
    name = re.sub(r"([a-z])([A-Z])", r"\1_\2", name).lower()  # milleRegrets -> mille_regrets
    name = re.sub(r"opus(\d+)", r"op\1", name)
    name = re.sub(r"(\d)no(\d)", r"\1_no\2", name)
    name = name.replace("movement", "mvmt")
    return re.sub(r"[^a-z0-9]+", "_", name).strip("_")


def title_from_path(corpus_path):
    """Return a readable title read from a corpus path, or the path itself."""
    madrigal = re.fullmatch(r"monteverdi/madrigal\.(\d+)\.(\d+)\.\w+", corpus_path)
    if madrigal:
        book, number = madrigal.groups()
        return f"Madrigals, Book {book}: No. {number}"
    return corpus_path


def title_from_metadata(score):
    """Return music21's title of a score, with the mass it belongs to, or None where it has none.

    Palestrina's movements name their mass as the parent title and their section as
    the title ("Missa Beatus Laurentius: Agnus I").
    """
    metadata = score.metadata
    if metadata is None or not metadata.title:
        return None
    title = metadata.title.strip(" ,;:")
    if metadata.movementName and metadata.movementName != metadata.title:
        title = f"{metadata.movementName}, {title}"
    if metadata.parentTitle:
        title = f"{metadata.parentTitle}: {title}"
    return title


def chorale_jobs():
    """Return a job for each of Bach's chorales: the bach/ folder holds chorales and BWV 846."""
    jobs = []
    known_titles = corpus.chorales.ChoraleList().byBWV  # titles for BWV 250-438 only
    for path in corpus_files("bach"):
        catalogue = pathlib.Path(path).stem[len("bwv"):]  # "269", "1.6", "248.9-1"
        if catalogue == "846":
            continue
        name = "chorale_bwv" + re.sub(r"[^a-z0-9]+", "_", catalogue.lower())
        title = f"Chorale BWV {catalogue}"
        if catalogue.isdigit() and int(catalogue) in known_titles:
            title += f": {known_titles[int(catalogue)]['title']}"
        title += ", arranged for two hands"
        jobs.append((path, "bach", name, title, CHORALE))
    return jobs


def list_jobs(palestrina_movements):
    """Return every score to build, composer by composer, as (path, composer, name, title, arrangement)."""
    jobs = [(path, composer, name, title, AS_WRITTEN)
            for path, composer, name, title in KEYBOARD_WORKS]
    jobs += chorale_jobs()
    for composer, work_path, work_title in ENSEMBLE_WORKS:
        for path in work_files(work_path):
            title = work_title
            movement = re.search(r"movement(\d+)\.\w+$", path)
            if title and movement:
                title += f": movement {movement.group(1)}"
            jobs.append((path, composer, output_name(path), title, BY_RANGE))
    for path in evenly_spaced(corpus_files("palestrina"), palestrina_movements):
        jobs.append((path, "palestrina", output_name(path), None, BY_RANGE))
    # Composer by composer, and within a composer in the order listed above.
    return sorted(jobs, key=lambda job: list(COMPOSERS).index(job[1]))


# --- Arranging for two hands ------------------------------------------------------

def chorale_voices(chorale):
    """Return a chorale's soprano, alto, tenor and bass parts, in that order.

    Part names start with the voice ("Soprano", or "Soprano Oboe 1 Violin 1" where
    instruments double it); instrument-only parts such as trumpets are not used.
    """
    parts_by_voice = {}
    for part in chorale.parts:
        parts_by_voice.setdefault(part.partName.split()[0], []).append(part)
    if any(len(parts_by_voice.get(name, [])) != 1 for name in CHORALE_VOICES):
        raise ValueError("not one part per voice (soprano, alto, tenor, bass); parts are "
                         + ", ".join(part.partName for part in chorale.parts))
    return [parts_by_voice[name][0] for name in CHORALE_VOICES]


def mean_pitch(voice):
    """Return the mean MIDI pitch of every note in a flat stream (each chord note counts)."""
    pitches = [pitch.midi for sounding in voice.notes for pitch in sounding.pitches]
    return sum(pitches) / len(pitches)


def split_by_range(voices):
    """Return (right-hand voices, left-hand voices), each highest first.

    In:  flat streams with notes, one per part, in score order.
    Out: the upper half of them by mean pitch for the right hand, the lower half for the
         left. With an odd number, the middle voice goes to the hand whose range (the
         mean of its other voices' mean pitches) its own mean pitch is nearer to; a tie
         goes to the right hand. So a soprano, alto, tenor and bass split as a pianist
         plays a chorale, and a trio sonata's two violins share the right hand.
    """
    highest_first = sorted(voices, key=mean_pitch, reverse=True)  # stable: ties keep score order
    half = len(voices) // 2
    right, left = highest_first[:half], highest_first[len(voices) - half:]
    if len(voices) % 2:
        middle = highest_first[half]
        right_range = sum(map(mean_pitch, right)) / len(right)
        left_range = sum(map(mean_pitch, left)) / len(left)
        if right_range - mean_pitch(middle) <= mean_pitch(middle) - left_range:
            right.append(middle)
        else:
            left.insert(0, middle)
    return right, left


def arrange_for_two_hands(parts):
    """Return a piano score of two parts, right hand and left hand, that plays the given parts.

    In:  the parts of one score (voices or instruments), in score order.
    Out: a Score whose right hand plays the upper parts and whose left hand plays the
         lower ones (see split_by_range), each note at its own pitch, length and
         velocity; the first part's key, metre and tempo marks are kept once.
    """
    # Join tied notes within each part first, so a tie never links two parts.
    voices = [part.flatten().stripTies() for part in parts]
    voices = [voice for voice in voices if voice.notes]  # a part that only rests plays nothing
    if len(voices) < 2:
        raise ValueError("fewer than two parts with notes")
    for voice in voices:
        # The velocity each note has in its own part, where its dynamics are.
        volume.realizeVolume(voice)
    score = stream.Score()
    for hand_name, hand_voices in zip(("Right hand", "Left hand"), split_by_range(voices)):
        hand = stream.Part()
        hand.partName = hand_name
        hand.insert(0, instrument.Piano())
        # Where two parts of a hand sound the same pitch at the same moment a pianist
        # strikes one key, so keep only the first (highest part's) of them.
        struck = set()
        for voice in hand_voices:
            for sounding in voice.notes:
                for pitch in sounding.pitches:
                    key = (sounding.offset, pitch.midi)
                    if key not in struck:
                        struck.add(key)
                        struck_note = note.Note(pitch, quarterLength=sounding.quarterLength)
                        struck_note.volume.velocity = round(sounding.volume.cachedRealized * 127)
                        hand.insert(sounding.offset, struck_note)
        score.insert(0, hand)
    # Key, metre and tempo marks go to the MIDI tempo track, so one copy, in the right
    # hand, is enough; a second copy of a mark that changes mid-piece would stop music21.
    for mark in voices[0].getElementsByClass(["KeySignature", "TimeSignature", "MetronomeMark"]):
        score.parts[0].insert(mark.offset, mark)
    return score


# --- Writing MIDI -----------------------------------------------------------------

def to_midi_bytes(score):
    """Return (MIDI file bytes, note) for a score; the note says if repeats were not played.

    music21 plays repeats out in full when it writes MIDI, as a performer would. A few
    scores have repeat signs it cannot follow; those are written once through, as printed.
    The arrangements have no measures, so they are always written once through.
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
    corpus_path, composer, name, title, arrangement = job
    result = {"source": corpus_path, "composer": composer, "file": f"{composer}/{name}.mid",
              "title": title, "midi": None, "note": ""}
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # music21 warns about harmless layout details
            score = corpus.parse(corpus_path, forceSource=True)
            if isinstance(score, stream.Opus):
                # An ABC file writes each voice as a tune of its own; put them side by side.
                score = score.mergeScores()
            if result["title"] is None:
                result["title"] = title_from_metadata(score) or title_from_path(corpus_path)
            if arrangement == CHORALE:
                score = arrange_for_two_hands(chorale_voices(score))
            elif arrangement == BY_RANGE:
                score = arrange_for_two_hands(list(score.parts))
            result["midi"], result["note"] = to_midi_bytes(score)
        result["notes"] = struck_notes(result["midi"])
        # Distinct onset times approximate the token count of the faithful encoding,
        # where each note is one token and notes starting together make one chord token.
        result["onsets"] = len({tick for tick, _ in result["notes"]})
    except Exception as error:  # one bad score must not stop the build
        result["midi"] = None
        result["note"] = f"{type(error).__name__}: {error}"
    result["title"] = result["title"] or title_from_path(corpus_path)
    return result


# --- The README -------------------------------------------------------------------

def write_readme(out_dir, written, left_out, rebuild_command):
    """Write README.md: what is in the folder, where it came from, and how to rebuild it."""
    files = {composer: 0 for composer in COMPOSERS}
    onsets = {composer: 0 for composer in COMPOSERS}
    for result in written:
        files[result["composer"]] += 1
        onsets[result["composer"]] += result["onsets"]
    lines = [
        "# midi_songs",
        "",
        f"The default training data: public-domain music by {len(COMPOSERS)} composers, all taken",
        "from the corpus of scores that is installed with music21. Each composer has a",
        "folder of their own; the training code reads the folder name as the composer.",
        "",
        "| Folder | Composer | Files | Tokens (about) |",
        "| --- | --- | ---: | ---: |",
    ]
    for composer, full_name in COMPOSERS.items():
        lines.append(f"| {composer}/ | {full_name} | {files[composer]} | {onsets[composer]:,} |")
    lines += [
        f"| | all | {len(written)} | {sum(onsets.values()):,} |",
        "",
        "Tokens are those of the faithful encoding: one a note, one a chord of notes",
        "that start together (counted as the distinct moments where notes start).",
        "",
        "## How the music was made playable by two hands",
        "",
        "Keyboard works (Bach's Prelude BWV 846, Chopin, C. P. E. Bach, Joplin, Mozart's",
        "K. 545, Schoenberg, Clara Schumann's polonaises, Verdi) are exported as music21",
        "reads them, with their dynamics turned into note velocities and their repeats",
        "played out.",
        "",
        "Everything else is arranged for two hands, the voices split between the hands",
        "by range: the parts are ordered by their mean pitch, the upper half goes to the",
        "right hand and the lower half to the left (a middle part goes to the hand whose",
        "range it is nearer to). In Bach's four-part chorales that puts soprano and alto",
        "in the right hand and tenor and bass in the left. Within a hand, a pitch that two",
        "parts sound at the same moment is struck once. Notes keep their pitch, length",
        "and the velocity their part's dynamics give them; key, metre and tempo marks are",
        "kept once; repeats are not played out. Only a subset of Palestrina's mass",
        "movements is taken, spread evenly over the corpus, so that he does not outweigh",
        "everyone else.",
        "",
        "Not taken from the corpus, on purpose: composers with a single ensemble score",
        "(one score is too little to stand for a composer), the trecento folder (many",
        "composers in one folder), folk-song collections, lead sheets, demonstration",
        "files, theory exercises, and files that are not notes (analyses, Finale files).",
        "",
        "Rebuild the folder, byte for byte, from the project root with:",
        "",
        f"    {rebuild_command}",
        "",
        "## Licence",
        "",
        "The compositions are in the public domain. The encodings come from the music21",
        "corpus; its licence (corpus/license.txt in music21) gives the terms: they are",
        "distributed with the permission of their encoders, some may not be used",
        "commercially, and some carry terms of their own inside the files (the Palestrina",
        "encodings refer to their encoder's licensing agreement; the Josquin encodings are",
        "under the GNU General Public License).",
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
        lines.append(f"| {result['file']} | {COMPOSERS[result['composer']]} | {result['title']} "
                     f"| `{result['source']}` | {result['note']} |")
    (out_dir / "README.md").write_text("\n".join(lines) + "\n", encoding="utf-8")


# --- Building the folder ----------------------------------------------------------

def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="midi_songs", help="folder to write the composer folders into")
    parser.add_argument("--palestrina", type=int, default=PALESTRINA_MOVEMENTS, metavar="N",
                        help="how many of Palestrina's mass movements to take, spread evenly "
                             "over the corpus in sorted order")
    parser.add_argument("--workers", type=int, default=multiprocessing.cpu_count(), metavar="N",
                        help="parallel processes; the output is the same for any number")
    args = parser.parse_args()
    if args.palestrina < 0:
        parser.error("--palestrina must be 0 or more movements")
    rebuild_command = REBUILD_COMMAND
    if args.palestrina != PALESTRINA_MOVEMENTS:
        rebuild_command += f" --palestrina {args.palestrina}"
    out_dir = pathlib.Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)

    started = time.monotonic()
    jobs = list_jobs(args.palestrina)
    print(f"Building {len(jobs)} scores into {out_dir}/ with {args.workers} processes")
    # imap returns results in the order of the jobs, whichever process finishes first;
    # one job at a time, since a string quartet takes a hundred times as long as a chorale.
    with multiprocessing.Pool(args.workers) as pool:
        results = list(pool.imap(build_one, jobs, chunksize=1))

    # A few pieces are in the corpus twice under different names; keep the first copy
    # only, so the same music cannot land in both training and validation.
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
        (out_dir / result["composer"]).mkdir(exist_ok=True)
        (out_dir / result["file"]).write_bytes(result["midi"])
        if result["note"]:
            print(f"  {result['source']}: {result['note']}")
    for result in left_out:
        print(f"  left out {result['source']}: {result['note']}")

    # Remove .mid files from earlier builds that this build did not write, the flat
    # files of the layout before composer folders among them, then emptied folders.
    written_files = {result["file"] for result in written}
    for stale in sorted(out_dir.rglob("*.mid")):
        if stale.relative_to(out_dir).as_posix() not in written_files:
            stale.unlink()
            print(f"  removed stale {stale.relative_to(out_dir)}")
    for folder in sorted(out_dir.iterdir()):
        if folder.is_dir() and not any(folder.iterdir()):
            folder.rmdir()

    write_readme(out_dir, written, left_out, rebuild_command)
    total_bytes = sum(len(result["midi"]) for result in written)
    total_onsets = sum(result["onsets"] for result in written)
    print(f"Wrote {len(written)} files ({total_bytes / 1e6:.1f} MB), left out {len(left_out)}, "
          f"about {total_onsets:,} faithful tokens, in {time.monotonic() - started:.0f} s")


if __name__ == "__main__":
    main()

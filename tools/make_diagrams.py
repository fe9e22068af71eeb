"""Draw the course's diagrams: SVG and PNG files in images/, one function a figure.

Run from the repository root:

    python tools/make_diagrams.py               # writes images/*.svg and images/*.png
    python tools/make_diagrams.py --out DIR     # writes them to DIR instead (the test does this)

The lessons show the PNG, from the course's GitHub address (tools/colab.py writes the links):
Colab opens a notebook without its folder, so a relative link to ../images shows nothing there,
and Colab does not display SVG images in Markdown. The SVG is the scalable copy, for slides and
print. The output is deterministic: the same script and Matplotlib version give byte-identical
files (fixed SVG hash salt, no date in the metadata). `tests/test_diagrams.py` regenerates
them and compares, so edit this script and rerun it (`make images`) rather than the SVGs.

Conventions shared by all figures: every drawing is in inches (1 data unit = 1 inch, so font
sizes in points and geometry agree at any scale); colours come from the Okabe-Ito palette,
which stays distinguishable with every common colour-vision deficiency, and each role (input,
hidden state, backward direction, cell state, gate, ...) has the same colour in every figure
(see ROLES); one typeface (DejaVu Sans, formulas included) throughout.
"""

import argparse
from pathlib import Path
from typing import NamedTuple

import matplotlib

matplotlib.use("svg")
import matplotlib.pyplot as plt
from matplotlib import patheffects
from matplotlib.patches import Circle, FancyArrowPatch, FancyBboxPatch, Rectangle
from matplotlib.path import Path as MplPath

IMAGES = Path(__file__).resolve().parents[1] / "images"

INK = "#222222"  # text, arrows, outlines of operations
MUTED = "#6b6b6b"  # secondary notes
# Okabe & Ito (2008), "Color universal design": (line colour, light fill) for each role.
ROLES = {
    "input": ("#56B4E9", "#DDF0FB"),  # sky blue: inputs x_t, tokens, letters
    "hidden": ("#0072B2", "#D3E5F1"),  # blue: hidden states, the forward direction
    "backward": ("#D55E00", "#F9E0CF"),  # vermillion: the backward direction
    "cell": ("#E69F00", "#FCEFD2"),  # orange: the LSTM's cell state
    "gate": ("#CC79A7", "#F6E6EF"),  # reddish purple: sigmoid gates, attention
    "tanh": ("#009E73", "#D3EFE6"),  # bluish green: tanh layers, candidates, the decoder
    "output": ("#8A7B00", "#FBF6C8"),  # yellow (darkened edge for contrast): predictions
    "pad": ("#9a9a9a", "#EFEFEF"),  # grey: padding, zeros
    "op": (INK, "white"),  # element-wise operations, plain boxes
}
FONT_SIZE = 11
SMALL = 10

plt.rcParams.update(
    {
        "font.family": "DejaVu Sans",
        "font.size": FONT_SIZE,
        "mathtext.fontset": "dejavusans",  # formulas in the labels' font: one typeface throughout
        "svg.hashsalt": "rnn-pytorch-diagrams",  # fixed ids: regenerating gives identical files
        "svg.fonttype": "path",  # glyphs as paths: the same look in every browser, no fonts needed
        "hatch.linewidth": 0.6,
    }
)


# ---------------------------------------------------------------------------------------------
# Drawing helpers (every figure uses these; coordinates are inches from the bottom left)
# ---------------------------------------------------------------------------------------------


class Box(NamedTuple):
    """A drawn box: centre (x, y), width w, height h; its sides' mid-points for arrows."""

    x: float
    y: float
    w: float
    h: float

    @property
    def top(self):
        return (self.x, self.y + self.h / 2)

    @property
    def bottom(self):
        return (self.x, self.y - self.h / 2)

    @property
    def left(self):
        return (self.x - self.w / 2, self.y)

    @property
    def right(self):
        return (self.x + self.w / 2, self.y)


def canvas(width, height):
    """A figure of width x height inches whose data coordinates are inches."""
    fig = plt.figure(figsize=(width, height))
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_xlim(0, width)
    ax.set_ylim(0, height)
    ax.set_axis_off()
    return fig, ax


def label(ax, x, y, text, size=FONT_SIZE, color=INK, ha="center", va="center", **kwargs):
    """Text centred (by default) on (x, y)."""
    return ax.text(x, y, text, fontsize=size, color=color, ha=ha, va=va, zorder=5, **kwargs)


def box(ax, x, y, w, h, text="", role="op", size=FONT_SIZE):
    """A rounded box centred on (x, y), filled and outlined in its role's colours, with centred text."""
    edge, fill = ROLES[role]
    style = "round,pad=0,rounding_size=0.08"
    ax.add_patch(FancyBboxPatch((x - w / 2, y - h / 2), w, h, boxstyle=style, fc=fill, ec=edge, lw=1.3, zorder=3))
    if text:
        label(ax, x, y, text, size=size)
    return Box(x, y, w, h)


def op(ax, x, y, symbol, r=0.14, size=FONT_SIZE + 1, color=INK):
    """A circle for an element-wise operation (x, +, 1-) or a mixed vector, centred on (x, y)."""
    ax.add_patch(Circle((x, y), r, fc="white", ec=color, lw=1.2, zorder=3))
    label(ax, x, y, symbol, size=size)
    return Box(x, y, 2 * r, 2 * r)


def dot(ax, x, y, color=INK):
    """A junction: the line branches here."""
    ax.add_patch(Circle((x, y), 0.035, fc=color, ec=color, zorder=4))


HEAD = "-|>,head_length=0.5,head_width=0.22"


def arrow(ax, *points, color=INK, lw=1.3, head=True, dashed=False, halo=False, zorder=2):
    """A polyline through points, with an arrow head at the last one.

    halo=True draws a white margin around the line, so that it visibly passes over the
    lines it crosses instead of seeming to join them.
    """
    path = MplPath(points, [MplPath.MOVETO] + [MplPath.LINETO] * (len(points) - 1))
    patch = FancyArrowPatch(
        path=path,
        arrowstyle=HEAD if head else "-",
        mutation_scale=14,
        color=color,
        lw=lw,
        linestyle=(0, (4, 2.5)) if dashed else "-",
        joinstyle="miter",
        capstyle="butt",
        zorder=zorder,
    )
    if halo:
        patch.set_path_effects([patheffects.withStroke(linewidth=lw + 5, foreground="white"), patheffects.Normal()])
    ax.add_patch(patch)


def line(ax, *points, **kwargs):
    """A polyline without an arrow head."""
    arrow(ax, *points, head=False, **kwargs)


def tag(ax, x, y, text, color, ha="center", size=SMALL):
    """A short name in a white pill outlined in color, e.g. where a tensor is read."""
    bbox = {"boxstyle": "round,pad=0.25,rounding_size=0.3", "fc": "white", "ec": color, "lw": 1.0}
    return label(ax, x, y, text, size=size, color=color, ha=ha, bbox=bbox)


def equations(ax, x, y, rows, step=0.42):
    """Left-aligned formulas from (x, y) downwards.

    rows: (formula, note) pairs; a formula is a string or a list of lines (a long one, broken),
    the note (may be empty) a short grey explanation under it.
    """
    for formula, note in rows:
        for i, text in enumerate([formula] if isinstance(formula, str) else formula):
            label(ax, x + (0.25 if i else 0), y, text, ha="left")
            y -= 0.27
        if note:
            label(ax, x, y + 0.06, note, size=SMALL - 0.5, ha="left", color=MUTED)
            y -= 0.2
        y -= step - 0.27


def split_bar(ax, x, y, w=0.5, h=0.26):
    """[forward ; backward]: a bar whose left half is the forward state, its right half the backward one."""
    for side, role in ((-1, "hidden"), (1, "backward")):
        edge, fill = ROLES[role]
        ax.add_patch(Rectangle((x + (side - 1) * w / 4, y - h / 2), w / 2, h, fc=fill, ec=edge, lw=1.2, zorder=3))
    return Box(x, y, w, h)


def save(fig, name, out):
    """Write out/name.svg and out/name.png (150 dots per inch), both deterministic."""
    out.mkdir(parents=True, exist_ok=True)
    fig.savefig(out / f"{name}.svg", metadata={"Date": None})
    fig.savefig(out / f"{name}.png", dpi=150)
    plt.close(fig)


# ---------------------------------------------------------------------------------------------
# 1. The RNN cell and the same network unrolled over time
# ---------------------------------------------------------------------------------------------


def rnn_unrolled():
    fig, ax = canvas(9, 3.6)
    hidden = ROLES["hidden"][0]
    label(ax, 4.5, 3.3, r"$h_t = \tanh(W_x\,x_t + W_h\,h_{t-1} + b), \qquad h_0 = 0$", size=FONT_SIZE + 2)
    y_in, y_cell, y_out = 0.55, 1.55, 2.5

    # Folded: one cell whose state loops back into it.
    cell = box(ax, 0.75, y_cell, 0.8, 0.6, r"$\tanh$", role="tanh")
    x_box = box(ax, 0.75, y_in, 0.5, 0.38, r"$x_t$", role="input")
    h_box = box(ax, 0.75, y_out, 0.5, 0.38, r"$h_t$", role="hidden")
    arrow(ax, x_box.top, cell.bottom)
    arrow(ax, cell.top, h_box.bottom)
    right = cell.right[0]
    ax.add_patch(
        FancyArrowPatch(
            (right, y_cell + 0.17),
            (right, y_cell - 0.17),
            connectionstyle="arc,angleA=0,angleB=0,armA=32,armB=32,rad=8",
            arrowstyle=HEAD,
            mutation_scale=14,
            color=hidden,
            lw=1.3,
            zorder=2,
        )
    )
    label(ax, right + 0.52, y_cell + 0.14, r"$h_{t-1}$", size=SMALL, ha="left", color=hidden)
    label(ax, right + 0.52, y_cell - 0.14, r"$W_h$", size=SMALL, ha="left")
    label(ax, 0.75, 0.1, "one cell, looped", size=SMALL, color=MUTED)

    # The unrolling arrow.
    ax.add_patch(
        FancyArrowPatch(
            (1.95, y_cell),
            (2.5, y_cell),
            arrowstyle="simple,head_length=0.8,head_width=0.9,tail_width=0.35",
            mutation_scale=18,
            fc=ROLES["pad"][1],
            ec=ROLES["pad"][0],
            lw=0.8,
        )
    )
    label(ax, 2.22, y_cell + 0.32, "unroll", size=SMALL, color=MUTED)

    # Unrolled: the same cell at every step.
    previous = box(ax, 2.85, y_cell, 0.48, 0.38, r"$h_0$", role="pad")
    steps = [("1", 3.85), ("2", 4.95), ("3", 6.05), ("T", 8.05)]
    for step, x in steps:
        c = box(ax, x, y_cell, 0.62, 0.6, r"$\tanh$", role="tanh")
        xb = box(ax, x, y_in, 0.5, 0.38, rf"$x_{step}$", role="input")
        hb = box(ax, x, y_out, 0.5, 0.38, rf"$h_{step}$", role="hidden")
        arrow(ax, xb.top, c.bottom)
        label(ax, x + 0.07, (xb.top[1] + c.bottom[1]) / 2, r"$W_x$", size=SMALL, ha="left")
        arrow(ax, c.top, hb.bottom)
        start, name = previous.right, {"1": "h_0", "2": "h_1", "3": "h_2", "T": "h_{T-1}"}[step]
        if step == "T":  # the steps in between
            dots = (previous.x + x) / 2
            arrow(ax, start, (dots - 0.2, y_cell), color=hidden)
            label(ax, dots, y_cell, r"$\cdots$", size=FONT_SIZE + 3)
            start = (dots + 0.2, y_cell)
        arrow(ax, start, c.left, color=hidden)
        middle = (start[0] + c.left[0]) / 2
        label(ax, middle, y_cell + 0.16, f"${name}$", size=SMALL, color=hidden)
        label(ax, middle, y_cell - 0.16, r"$W_h$", size=SMALL)
        previous = c
    label(ax, hb.right[0] + 0.08, y_out, "= h_n", ha="left", color=hidden)
    left, right = steps[0][1] - 0.3, steps[-1][1] + 0.3
    line(ax, (left, y_out + 0.27), (left, y_out + 0.35), (right, y_out + 0.35), (right, y_out + 0.27), lw=0.9)
    label(ax, (left + right) / 2, y_out + 0.5, "output (B, T, H): the state at every step", size=SMALL)
    label(ax, 5.5, 0.1, r"the same $W_x$, $W_h$, $b$ at every step", size=SMALL, color=MUTED)
    return fig


# ---------------------------------------------------------------------------------------------
# 2-3. The LSTM and GRU cells: inputs along the bottom, the state along the top
# ---------------------------------------------------------------------------------------------


def cell_frame(ax, left, bottom, right, top, name):
    """The light outline of a recurrent cell, named in its top-left corner."""
    ax.add_patch(
        FancyBboxPatch(
            (left, bottom),
            right - left,
            top - bottom,
            boxstyle="round,pad=0,rounding_size=0.15",
            fc="#F7F7F7",
            ec="#BBBBBB",
            lw=1.0,
            zorder=0,
        )
    )
    label(ax, left + 0.12, top - 0.15, name, size=SMALL, color=MUTED, ha="left")


def gate_inputs(ax, xs, y_h, y_x, top):
    """Vertical feeds from the x_t bus (y_x) through the h_{t-1} bus (y_h) up to the gates at height top.

    A dot on both buses: each gate reads x_t and h_{t-1}, each through its own weights.
    """
    for x in xs:
        arrow(ax, (x, y_x), (x, top))
        dot(ax, x, y_x, ROLES["input"][0])
        dot(ax, x, y_h, ROLES["hidden"][0])


def lstm_cell():
    fig, ax = canvas(9, 4.4)
    hidden, cell, inp = ROLES["hidden"][0], ROLES["cell"][0], ROLES["input"][0]
    y_c, y_h, y_x, y_gate = 3.55, 1.1, 0.72, 1.8
    cell_frame(ax, 0.45, 0.45, 4.75, 3.95, "LSTM cell")

    # Inputs: the cell state along the top, h_{t-1} and x_t along the bottom.
    xf, xi, xg, xo, xt = 1.3, 2.1, 2.9, 3.7, 4.3
    label(ax, 0.05, y_c + 0.2, r"$c_{t-1}$", color=cell, ha="left")
    label(ax, 0.05, y_h + 0.2, r"$h_{t-1}$", color=hidden, ha="left")
    label(ax, 0.85, 0.08, r"$x_t$", color=inp, ha="right")
    line(ax, (0.05, y_h), (xo, y_h), color=hidden, lw=1.6)
    line(ax, (0.95, 0.05), (0.95, y_x), (xo, y_x), color=inp, lw=1.6)
    gate_inputs(ax, (xf, xi, xg, xo), y_h, y_x, y_gate - 0.21)
    gates = {
        name: box(ax, x, y_gate, 0.5, 0.42, symbol, role=role)
        for name, x, symbol, role in [
            ("f", xf, r"$\sigma$", "gate"),
            ("i", xi, r"$\sigma$", "gate"),
            ("g", xg, r"$\tanh$", "tanh"),
            ("o", xo, r"$\sigma$", "gate"),
        ]
    }

    # The cell state: c_t = f_t * c_{t-1} + i_t * g_t.
    forget = op(ax, xf, y_c, r"$\times$")
    add = op(ax, (xi + xg) / 2, y_c, "+")
    write = op(ax, add.x, 2.6, r"$\times$")
    arrow(ax, (0.05, y_c), forget.left, color=cell, lw=2.2)
    arrow(ax, forget.right, add.left, color=cell, lw=2.2)
    arrow(ax, add.right, (5.25, y_c), color=cell, lw=2.2)
    label(ax, 5.3, y_c, r"$c_t$", color=cell, ha="left")
    arrow(ax, gates["f"].top, forget.bottom)
    arrow(ax, gates["i"].top, (xi, write.y), write.left)
    arrow(ax, gates["g"].top, (xg, write.y), write.right)
    arrow(ax, write.top, add.bottom)
    label(ax, xf + 0.07, 2.6, r"$f_t$", ha="left")
    label(ax, xi - 0.07, 2.3, r"$i_t$", ha="right")
    label(ax, xg + 0.07, 2.3, r"$g_t$", ha="left")

    # The output: h_t = o_t * tanh(c_t).
    squash = box(ax, xt, 3.0, 0.5, 0.3, r"$\tanh$", role="tanh", size=SMALL)
    show = op(ax, xt, 2.4, r"$\times$")
    dot(ax, xt, y_c, cell)
    arrow(ax, (xt, y_c), squash.top, color=cell)
    arrow(ax, squash.bottom, show.top)
    arrow(ax, gates["o"].top, (xo, show.y), show.left)
    label(ax, xo - 0.07, 2.3, r"$o_t$", ha="right")
    arrow(ax, show.bottom, (xt, y_h), (5.25, y_h), color=hidden, lw=1.6)
    label(ax, 5.3, y_h, r"$h_t$", color=hidden, ha="left")

    equations(
        ax,
        5.75,
        3.85,
        [
            (r"$i_t = \sigma(W_{ii}x_t + b_{ii} + W_{hi}h_{t-1} + b_{hi})$", "input gate: how much to write"),
            (r"$f_t = \sigma(W_{if}x_t + b_{if} + W_{hf}h_{t-1} + b_{hf})$", "forget gate: how much to keep"),
            (r"$g_t = \tanh(W_{ig}x_t + b_{ig} + W_{hg}h_{t-1} + b_{hg})$", "candidate values"),
            (r"$o_t = \sigma(W_{io}x_t + b_{io} + W_{ho}h_{t-1} + b_{ho})$", "output gate: how much to show"),
            (r"$c_t = f_t \odot c_{t-1} + i_t \odot g_t$", ""),
            (r"$h_t = o_t \odot \tanh(c_t)$", "PyTorch's order of the gates: i, f, g, o"),
        ],
    )
    return fig


def gru_cell():
    fig, ax = canvas(9, 4.4)
    hidden, inp = ROLES["hidden"][0], ROLES["input"][0]
    y_top, y_h, y_x, y_gate, y_mix = 3.75, 1.1, 0.72, 1.75, 2.3
    cell_frame(ax, 0.45, 0.45, 4.75, 4.1, "GRU cell")

    # Inputs: h_{t-1} along the top (and down to the gates), x_t along the bottom.
    xz, xr, xhn, xin = 1.45, 2.25, 3.05, 3.9
    label(ax, 0.05, y_top + 0.2, r"$h_{t-1}$", color=hidden, ha="left")
    label(ax, 0.85, 0.08, r"$x_t$", color=inp, ha="right")
    dot(ax, 0.75, y_top, hidden)
    line(ax, (0.75, y_top), (0.75, y_h), (xhn, y_h), color=hidden, lw=1.6)
    line(ax, (0.95, 0.05), (0.95, y_x), (xin, y_x), color=inp, lw=1.6)
    gate_inputs(ax, (xz, xr), y_h, y_x, y_gate - 0.21)
    z = box(ax, xz, y_gate, 0.5, 0.42, r"$\sigma$", role="gate")
    r = box(ax, xr, y_gate, 0.5, 0.42, r"$\sigma$", role="gate")
    w_hn = box(ax, xhn, y_gate, 0.6, 0.42, r"$W_{hn}$")
    w_in = box(ax, xin, y_gate, 0.6, 0.42, r"$W_{in}$")
    dot(ax, xhn, y_h, hidden)
    arrow(ax, (xhn, y_h), w_hn.bottom)
    dot(ax, xin, y_x, inp)
    arrow(ax, (xin, y_x), w_in.bottom)

    # The candidate: n_t = tanh(W_in x_t + b_in + r_t * (W_hn h_{t-1} + b_hn)).
    reset = op(ax, xhn, y_mix, r"$\times$")
    join = op(ax, xin, y_mix, "+")
    squash = box(ax, xin, 2.82, 0.5, 0.3, r"$\tanh$", role="tanh", size=SMALL)
    arrow(ax, r.top, (xr, y_mix), reset.left)
    label(ax, xr - 0.07, 2.15, r"$r_t$", ha="right")
    arrow(ax, w_hn.top, reset.bottom)
    arrow(ax, reset.right, join.left)
    arrow(ax, w_in.top, join.bottom)
    arrow(ax, join.top, squash.bottom)

    # The new state: h_t = (1 - z_t) * n_t + z_t * h_{t-1}.
    keep = op(ax, xz, y_top, r"$\times$")
    add = op(ax, xin, y_top, "+")
    y_new = 3.3
    new = op(ax, xin, y_new, r"$\times$")
    flip = op(ax, 2.65, y_new, r"$1-$", r=0.18, size=SMALL)
    arrow(ax, (0.05, y_top), keep.left, color=hidden, lw=1.6)
    arrow(ax, keep.right, add.left, color=hidden, lw=1.6)
    arrow(ax, add.right, (5.25, y_top), color=hidden, lw=1.6)
    label(ax, 5.3, y_top, r"$h_t$", color=hidden, ha="left")
    arrow(ax, z.top, keep.bottom)
    label(ax, xz + 0.07, 2.6, r"$z_t$", ha="left")
    dot(ax, xz, y_new)
    arrow(ax, (xz, y_new), flip.left)
    arrow(ax, flip.right, new.left)
    label(ax, 3.3, y_new + 0.16, r"$1-z_t$", size=SMALL)
    arrow(ax, squash.top, new.bottom)
    label(ax, squash.right[0] + 0.08, squash.y, r"$n_t$", ha="left")
    arrow(ax, new.top, add.bottom)

    equations(
        ax,
        5.65,
        3.85,
        [
            (r"$r_t = \sigma(W_{ir}x_t + b_{ir} + W_{hr}h_{t-1} + b_{hr})$", "reset gate"),
            (
                r"$z_t = \sigma(W_{iz}x_t + b_{iz} + W_{hz}h_{t-1} + b_{hz})$",
                "update gate: how much old state to keep",
            ),
            (
                [r"$n_t = \tanh(W_{in}x_t + b_{in}$", r"$+\ r_t \odot (W_{hn}h_{t-1} + b_{hn}))$"],
                r"candidate: $r_t$ scales $W_{hn}h_{t-1} + b_{hn}$",
            ),
            (r"$h_t = (1 - z_t) \odot n_t + z_t \odot h_{t-1}$", "PyTorch's order of the gates: r, z, n"),
        ],
    )
    return fig


# ---------------------------------------------------------------------------------------------
# 4. A padded batch, the same batch packed, and each sequence reversed within its length
# ---------------------------------------------------------------------------------------------


# Three sequences of a batch, told apart by colour (blue, orange, bluish green of Okabe-Ito).
SEQUENCES = [("#0072B2", "#D3E5F1"), ("#E69F00", "#FCEFD2"), ("#009E73", "#D3EFE6")]
PADDED = [[1, 2, 3, 4, 5], [6, 7, 8, 0, 0], [9, 0, 0, 0, 0]]
LENGTHS = [5, 3, 1]


def token(ax, x, y, value, sequence, size=0.42):
    """One token id in a square cell coloured by its sequence; sequence None: a padding cell."""
    if sequence is None:
        ax.add_patch(Rectangle((x - size / 2, y - size / 2), size, size, fc="white", ec="#C4C4C4", lw=0.8, hatch="//"))
        ax.add_patch(Rectangle((x - size / 2, y - size / 2), size, size, fc="none", ec=ROLES["pad"][0], lw=0.9))
        label(ax, x, y, str(value), color=MUTED, bbox={"fc": "white", "ec": "none", "pad": 0.5})
    else:
        edge, fill = SEQUENCES[sequence]
        ax.add_patch(Rectangle((x - size / 2, y - size / 2), size, size, fc=fill, ec=edge, lw=1.3, zorder=3))
        label(ax, x, y, str(value))


def batch_grid(ax, x0, y0, rows, title, cell=0.42):
    """A padded batch as a (B, T) grid with its top-left cell centred on (x0, y0); zeros are padding."""
    label(ax, x0 - cell / 2, y0 + 0.75, title, ha="left")
    for t in range(len(rows[0])):
        label(ax, x0 + t * cell, y0 + 0.36, f"t={t + 1}", size=SMALL - 1, color=MUTED)
    for b, (row, length) in enumerate(zip(rows, LENGTHS)):
        y = y0 - b * cell
        label(ax, x0 - cell / 2 - 0.1, y, f"b={b}", size=SMALL, color=SEQUENCES[b][0], ha="right")
        for t, value in enumerate(row):
            token(ax, x0 + t * cell, y, value, b if t < length else None, cell)
    width, height = len(rows[0]) * cell, len(rows) * cell
    return Box(x0 - cell / 2 + width / 2, y0 + cell / 2 - height / 2, width, height)


def padded_vs_packed():
    fig, ax = canvas(9, 4.5)
    cell = 0.42

    # The padded batch, and each sequence reversed within its own length (the backward direction).
    padded = batch_grid(ax, 0.95, 3.35, PADDED, "padded: x (B, T) = (3, 5), lengths = [5, 3, 1]")
    reversed_rows = [row[:n][::-1] + row[n:] for row, n in zip(PADDED, LENGTHS)]
    flipped = batch_grid(ax, 6.15, 3.35, reversed_rows, "reverse_padded(x, lengths)")
    start, end = padded.right[0] + 0.25, flipped.left[0] - 0.55
    arrow(ax, (start, padded.y), (end, padded.y))
    label(ax, (start + end) / 2, padded.y + 0.2, "for the backward direction", size=SMALL, color=MUTED)
    label(
        ax,
        flipped.left[0],
        flipped.bottom[1] - 0.12,
        "each sequence reversed within\nits own length: the backward\ndirection starts at its last token",
        size=SMALL - 0.5,
        color=MUTED,
        ha="left",
        va="top",
    )
    token(ax, padded.left[0] + 0.12, padded.bottom[1] - 0.3, 0, None, 0.24)
    label(ax, padded.left[0] + 0.32, padded.bottom[1] - 0.3, "<pad>, id 0", size=SMALL - 0.5, color=MUTED, ha="left")

    # The packed sequence: time step by time step, only the sequences still running.
    y_data, x = 0.85, 1.65
    x_arrow = padded.right[0] - 0.5
    arrow(ax, (x_arrow, padded.bottom[1] - 0.1), (x_arrow, y_data + 0.55))
    label(
        ax,
        x_arrow + 0.12,
        1.8,
        "pack_padded_sequence(x, lengths,\n                     batch_first=True)",
        size=SMALL,
        ha="left",
    )
    label(ax, x - 0.35, y_data, "data", ha="right")
    label(ax, x - 0.35, y_data - 0.55, "batch_sizes", ha="right")
    for t in range(len(PADDED[0])):
        running = sum(n > t for n in LENGTHS)
        left = x
        for b in range(running):
            token(ax, x, y_data, PADDED[b][t], b, cell)
            x += cell
        middle = (left + x - cell) / 2
        label(ax, middle, y_data + 0.36, f"t={t + 1}", size=SMALL - 1, color=MUTED)
        label(ax, middle, y_data - 0.55, str(running))
        line(ax, (left - cell / 2 + 0.03, y_data - 0.3), (x - cell / 2 - 0.03, y_data - 0.3), lw=0.9)
        x += 0.22
    label(
        ax,
        x + 0.1,
        y_data - 0.25,
        "step t runs on the\nfirst batch_sizes[t]\nsequences: no pads",
        size=SMALL - 0.5,
        color=MUTED,
        ha="left",
    )
    return fig


# ---------------------------------------------------------------------------------------------
# 5. A bidirectional two-layer RNN: where output and h_n come from
# ---------------------------------------------------------------------------------------------


def fork(ax, start, y_fork, targets, color=INK):
    """A line up from start that branches at height y_fork into arrows up to each target point.

    The branches are drawn with a white margin, so they visibly pass over the lines they cross.
    """
    line(ax, start, (start[0], y_fork), color=color)
    dot(ax, start[0], y_fork, color)
    for target in targets:
        arrow(ax, (start[0], y_fork), (target[0], y_fork), target, color=color, halo=True, zorder=2.5)


def bidirectional_stack():
    fig, ax = canvas(9, 6.1)
    fwd, bwd = ROLES["hidden"][0], ROLES["backward"][0]
    columns, shift, w, h = [2.3, 3.45, 4.6, 5.75], 0.27, 0.5, 0.38
    label(ax, 0.1, 5.85, "nn.LSTM(I, H, num_layers=2, bidirectional=True, batch_first=True)", ha="left")
    rows = {"x": 0.4, "f0": 1.3, "b0": 2.0, "cat0": 2.75, "f1": 3.65, "b1": 4.35, "cat1": 5.1}
    for name, text, color in [
        ("x", "input (I)", ROLES["input"][0]),
        ("f0", "layer 0 →", fwd),
        ("b0", "layer 0 ←", bwd),
        ("cat0", "layer 0's output\n(2H, dropout if set)", MUTED),
        ("f1", "layer 1 →", fwd),
        ("b1", "layer 1 ←", bwd),
        ("cat1", "output (2H)", INK),
    ]:
        label(ax, 0.1, rows[name], text, size=SMALL, color=color, ha="left")

    inputs = [box(ax, c, rows["x"], 0.5, 0.36, f"$x_{t + 1}$", role="input") for t, c in enumerate(columns)]
    below = [b.top for b in inputs]
    finals = {}
    for layer in (0, 1):
        f_row, b_row = rows[f"f{layer}"], rows[f"b{layer}"]
        forward = [box(ax, c - shift, f_row, w, h, "→", role="hidden") for c in columns]
        backward = [box(ax, c + shift, b_row, w, h, "←", role="backward") for c in columns]
        # The chains: forward left to right from a zero state, backward right to left.
        label(ax, forward[0].left[0] - 0.45, f_row, "0", size=SMALL, color=MUTED)
        arrow(ax, (forward[0].left[0] - 0.35, f_row), forward[0].left, color=fwd)
        for a, b in zip(forward, forward[1:]):
            arrow(ax, a.right, b.left, color=fwd)
        label(ax, backward[-1].right[0] + 0.45, b_row, "0", size=SMALL, color=MUTED)
        arrow(ax, (backward[-1].right[0] + 0.35, b_row), backward[-1].right, color=bwd)
        for a, b in zip(backward[1:], backward):
            arrow(ax, a.left, b.right, color=bwd)
        # Their final states: the forward one after step T, the backward one after step 1.
        finals[2 * layer] = forward[-1].right
        finals[2 * layer + 1] = backward[0].left
        # Each step reads the layer below (both directions read all of it) and is concatenated.
        y_fork = (below[0][1] + f_row - h / 2) / 2
        bars = [split_bar(ax, c, rows[f"cat{layer}"]) for c in columns]
        for start, f, b, bar in zip(below, forward, backward, bars):
            fork(ax, start, y_fork, [f.bottom, b.bottom])
            arrow(ax, f.top, (f.x, bar.bottom[1]), color=fwd, halo=True, zorder=2.5)
            arrow(ax, b.top, (b.x, bar.bottom[1]), color=bwd)
        below = [bar.top for bar in bars]

    for index, (x, y) in finals.items():
        color, side, ha = (fwd, 1, "left") if index % 2 == 0 else (bwd, -1, "right")
        arrow(ax, (x, y), (x + side * 0.62, y), color=color)  # passes under the next input line
        tag(ax, x + side * 0.75, y, f"h_n[{index}]", color, ha=ha)

    top = rows["cat1"] + 0.13
    line(
        ax,
        (columns[0] - 0.3, top + 0.1),
        (columns[0] - 0.3, top + 0.2),
        (columns[-1] + 0.3, top + 0.2),
        (columns[-1] + 0.3, top + 0.1),
        lw=0.9,
    )
    label(
        ax,
        (columns[0] + columns[-1]) / 2,
        top + 0.38,
        "output (B, T, 2H): the last layer at every step;  [..., :H] →,  [..., H:] ←",
        size=SMALL,
    )
    label(
        ax,
        7.15,
        3.2,
        "h_n (num_layers·2, B, H):\nthe final state of each\nlayer and direction:\n"
        "→ after step T,\n← after step 1\n\nh_n.view(2, 2, B, H)\n    [layer, direction]",
        size=SMALL,
        ha="left",
        linespacing=1.4,
    )
    return fig


# ---------------------------------------------------------------------------------------------
# 6. Encoder-decoder with additive attention: spelling to pronunciation
# ---------------------------------------------------------------------------------------------


def seq2seq_attention():
    fig, ax = canvas(9, 5.9)
    fwd, bwd, attn, dec = ROLES["hidden"][0], ROLES["backward"][0], ROLES["gate"][0], ROLES["tanh"][0]
    y_letter, y_enc, y_in, y_dec, y_out = 0.35, 1.2, 3.55, 4.45, 5.4

    # Encoder: a bidirectional RNN over the letters; h_j = [forward; backward] state at letter j.
    letters, alphas = "PHONE", [0.04, 0.08, 0.72, 0.12, 0.04]
    xs = [0.9 + 0.9 * j for j in range(len(letters))]
    states = []
    for j, (letter, x) in enumerate(zip(letters, xs)):
        letter_box = box(ax, x, y_letter, 0.42, 0.36, letter, role="input")
        bar = split_bar(ax, x, y_enc, w=0.56, h=0.36)
        label(ax, x, y_enc, f"$h_{j + 1}$")
        arrow(ax, letter_box.top, bar.bottom)
        states.append(bar)
    for a, b in zip(states, states[1:]):
        arrow(ax, (a.right[0], y_enc + 0.08), (b.left[0], y_enc + 0.08), color=fwd)
        arrow(ax, (b.left[0], y_enc - 0.08), (a.right[0], y_enc - 0.08), color=bwd)
    label(ax, xs[-1] + 0.4, y_enc, "bidirectional encoder", size=SMALL, color=MUTED, ha="left")
    label(ax, xs[-1] + 0.4, y_letter, "spelling", size=SMALL, color=MUTED, ha="left")

    # Decoder: s_t = RNN([y_{t-1}; c_t], s_{t-1}); inputs are the previous *true* phonemes.
    previous, predicted = ["<bos>", "F", "OW1", "N"], ["F", "OW1", "N", "<eos>"]
    columns = [1.95, 3.25, 4.55, 5.85]
    start = box(ax, 0.75, y_dec, 0.5, 0.4, "$s_0$", role="tanh")
    # s_0 comes from the encoder's final states: the forward one after the last letter (left half of
    # h_5), the backward one after the first letter (right half of h_1); routed under the encoder.
    y_route, bottom = 0.78, y_enc - 0.18
    forward_final, backward_final = xs[-1] - 0.14, xs[0] + 0.14
    line(ax, (forward_final, bottom), (forward_final, y_route), (backward_final, y_route), color=fwd, halo=True)
    line(ax, (backward_final, bottom), (backward_final, y_route), color=bwd)
    dot(ax, backward_final, y_route, dec)
    arrow(ax, (backward_final, y_route), (0.35, y_route), (0.35, y_dec), start.left, color=dec, dashed=True, halo=True)
    label(ax, xs[-1] + 0.4, y_route, "final states: → after E, ← after P", size=SMALL - 0.5, color=MUTED, ha="left")
    label(ax, 0.16, (y_route + y_dec) / 2, "initial state", size=SMALL - 0.5, color=MUTED, rotation=90)
    cells, contexts = [start], []
    for t, x in enumerate(columns, start=1):
        s_t = box(ax, x, y_dec, 0.6, 0.4, f"$s_{t}$", role="tanh")
        context = op(ax, x - 0.22, y_in, f"$c_{t}$", r=0.17, size=SMALL, color=attn)
        given = box(ax, x + 0.25, y_in, 0.5, 0.32, previous[t - 1], role="output", size=SMALL)
        arrow(ax, context.top, (context.x, s_t.bottom[1]))
        arrow(ax, given.top, (given.x, s_t.bottom[1]))
        out = box(ax, x, y_out, 0.55, 0.34, predicted[t - 1], role="output", size=SMALL)
        arrow(ax, s_t.top, out.bottom)
        arrow(ax, cells[-1].right, s_t.left, color=dec)
        cells.append(s_t)
        contexts.append(context)

    # Attention at step t = 2: s_1 scores every h_j; the weights alpha_{2,j} mix the h_j into c_2.
    target = contexts[1]
    for bar, alpha in zip(states, alphas):
        arrow(ax, bar.top, target.bottom, color=attn, lw=0.6 + 5 * alpha, head=False, zorder=1)
        x = bar.x + 0.3 * (target.x - bar.x)
        y = bar.top[1] + 0.3 * (target.bottom[1] - bar.top[1])
        label(ax, x, y, f"{alpha:.2f}", size=SMALL - 1, color=attn, bbox={"fc": "white", "ec": "none", "pad": 0.6})
    label(ax, 0.55, 1.98, r"$\alpha_{2,j}$", color=attn, ha="left")
    label(
        ax, 0.55, 2.75, "attention, drawn\nfor t = 2 (each step\nhas its own)", size=SMALL - 0.5, color=MUTED, ha="left"
    )
    query = (columns[0] + columns[1]) / 2 - 0.05
    dot(ax, query, y_dec, dec)
    arrow(ax, (query, y_dec), (query, y_in), target.left, color=dec, dashed=True)
    label(ax, query - 0.06, (y_dec + y_in) / 2 + 0.06, "$s_1$", size=SMALL, color=dec, ha="right")

    label(ax, columns[-1] + 0.6, y_out, "predicted phonemes\n(ARPAbet)", size=SMALL, color=MUTED, ha="left")
    label(ax, columns[-1] + 0.6, y_dec, "decoder", size=SMALL, color=MUTED, ha="left")
    label(
        ax,
        columns[-1] + 0.6,
        y_in,
        "context; the previous true\nphoneme (teacher forcing;\nat test time, the prediction)",
        size=SMALL,
        color=MUTED,
        ha="left",
    )
    equations(
        ax,
        5.6,
        3.1,
        [
            (r"$s_0 = \tanh(W_0\,[\overrightarrow{h}_5;\ \overleftarrow{h}_1] + b_0)$", ""),
            (r"$e_{t,j} = v^\top \tanh(W_s\,s_{t-1} + W_h\,h_j)$", ""),
            (r"$\alpha_{t,j} = \mathrm{softmax}_j(e_{t,j})$", ""),
            (r"$c_t = \Sigma_j\,\alpha_{t,j}\,h_j$", ""),
            (r"$s_t = \mathrm{RNN}([y_{t-1}; c_t],\ s_{t-1})$", ""),
            (r"$p(y_t) = \mathrm{softmax}(W_o[s_t; c_t] + b_o)$", ""),
        ],
        step=0.33,
    )
    return fig


# ---------------------------------------------------------------------------------------------
# 7. The segment-wise GRU forecaster (lesson 07): 4 segments in, 4 segments out in parallel
# ---------------------------------------------------------------------------------------------


def segment_gru():
    fig, ax = canvas(9.8, 5.4)
    hidden, dec = ROLES["hidden"][0], ROLES["tanh"][0]
    y_seg, y_emb, y_gru, y_query, y_dec, y_bus, y_head, y_out = 0.7, 1.65, 2.65, 1.65, 2.65, 3.25, 4.0, 4.9

    # Encoder: one column's look-back minus its last value, cut into 4 segments of 24 hours.
    xs = [1.6 + 0.95 * j for j in range(4)]
    previous = box(ax, xs[0] - 0.72, y_gru, 0.3, 0.36, "0", role="pad", size=SMALL)
    for j, x in enumerate(xs, start=1):
        segment = box(ax, x, y_seg, 0.76, 0.38, f"$s_{j}$ (24 h)", role="input", size=SMALL)
        embed = box(ax, x, y_emb, 0.76, 0.38, f"$e_{j}$", role="input", size=SMALL)
        cell = box(ax, x, y_gru, 0.62, 0.46, "GRU", role="hidden", size=SMALL)
        arrow(ax, segment.top, embed.bottom)
        arrow(ax, embed.top, cell.bottom)
        arrow(ax, previous.right, cell.left, color=hidden)
        previous = cell
    label(
        ax,
        0.08,
        (y_seg + y_emb) / 2,
        "$e_j = \\mathrm{ReLU}($\n$\\quad W_e s_j + b_e)$",
        size=SMALL - 1,
        color=MUTED,
        ha="left",
    )
    label(ax, (xs[0] + xs[-1]) / 2, y_gru + 0.45, "encoder: 4 steps over the look-back", size=SMALL, color=MUTED)
    label(
        ax,
        (xs[0] + xs[-1]) / 2 - 0.3,
        0.1,
        "one column's look-back minus its last value $x_L$: 4 segments × 24 h",
        size=SMALL,
        color=MUTED,
    )

    # Decoder: h_n feeds 4 independent GRU steps, one per output segment, each with its own query q_k.
    ks = [6.05 + 1.0 * k for k in range(4)]
    bus = xs[-1] + 0.72
    line(ax, previous.right, (bus, y_gru), (bus, y_bus), (ks[-1] - 0.18, y_bus), color=hidden, lw=1.6)
    label(ax, (previous.right[0] + bus) / 2, y_gru + 0.17, "$h_n$", size=SMALL, color=hidden)
    for k, x in enumerate(ks, start=1):
        query = box(ax, x, y_query, 0.86, 0.38, f"$q_{k} = [p_{k}; c]$", role="gate", size=SMALL)
        cell = box(ax, x, y_dec, 0.62, 0.46, "GRU", role="tanh", size=SMALL)
        head = box(ax, x, y_head, 0.86, 0.38, f"$\\hat y_{k}$ (24 h)", role="output", size=SMALL)
        arrow(ax, query.top, cell.bottom)
        dot(ax, x - 0.18, y_bus, hidden)
        arrow(ax, (x - 0.18, y_bus), (x - 0.18, cell.top[1]), color=hidden)
        line(ax, (x + 0.14, cell.top[1]), (x + 0.14, y_bus + 0.12), color=dec, halo=True, zorder=3)
        arrow(ax, (x + 0.14, y_bus + 0.1), (x + 0.14, head.bottom[1]), color=dec)
    label(ax, ks[0] + 0.22, (y_bus + y_head) / 2 - 0.05, "dropout, linear", size=SMALL - 1.5, color=MUTED, ha="left")
    label(
        ax,
        (ks[0] + ks[-1]) / 2,
        y_query - 0.42,
        "queries: position $p_k$ and column $c$ embeddings",
        size=SMALL,
        color=MUTED,
    )
    label(
        ax,
        (ks[0] + ks[-1]) / 2,
        0.1,
        "decoder: 4 steps of the same GRU from $h_n$, side by side",
        size=SMALL,
        color=MUTED,
    )

    # The forecast: the 4 output segments joined, plus the last value.
    forecast = box(
        ax,
        (ks[0] + ks[-1]) / 2,
        y_out,
        3.9,
        0.42,
        r"forecast: $[\hat y_1; \hat y_2; \hat y_3; \hat y_4] + x_L$ (96 h)",
        role="output",
        size=SMALL,
    )
    for x in ks:
        arrow(ax, (x, y_head + 0.19), (x, forecast.bottom[1]))
    label(
        ax,
        (xs[0] + xs[-1]) / 2,
        y_out,
        "each of the 7 columns is forecast\nseparately, with the same weights",
        size=SMALL,
        color=MUTED,
    )
    return fig


# ---------------------------------------------------------------------------------------------
# 8. A text read as B streams, window after window (truncated BPTT)
# ---------------------------------------------------------------------------------------------


def text_streams():
    fig, ax = canvas(9.2, 4.1)
    hidden = ROLES["hidden"][0]
    left = 1.35
    windows = [(left + 0.8, 1.5), (left + 2.85, 1.5), (left + 4.9, 1.5), (left + 6.55, 0.8)]  # centre, width
    width = windows[-1][0] + windows[-1][1] / 2 - left
    streams, y_text = 3, 3.7
    label(ax, 0.1, y_text, "the text", ha="left")
    seg = width / streams
    for b in range(streams):
        box(ax, left + seg * (b + 0.5), y_text, seg - 0.06, 0.34, f"stream {b + 1}", role="input", size=SMALL)

    rows = [2.6, 1.95, 1.3]  # stream b, read left to right
    top, bottom = rows[0] + 0.3, rows[-1] - 0.3
    for b, y in enumerate(rows):
        label(ax, 0.1, y, f"stream {b + 1}", ha="left", color=MUTED)
        previous = None
        for k, (x, w) in enumerate(windows):
            current = box(ax, x, y, w, 0.4, "shorter" if k == len(windows) - 1 else "T characters", "input", SMALL)
            if previous is not None:
                arrow(ax, previous.right, current.left, color=hidden)
            previous = current
    for k, (x, w) in enumerate(windows):  # a window is one column: a batch (B, T)
        x0, x1 = x - w / 2 - 0.06, x + w / 2 + 0.06
        line(ax, (x0, top), (x0, bottom), (x1, bottom), (x1, top), (x0, top), dashed=True, lw=0.9, color=MUTED)
        label(ax, x, bottom - 0.22, f"window {k + 1}" if k < len(windows) - 1 else "last window", size=SMALL)
        if k:
            gap = (windows[k - 1][0] + windows[k - 1][1] / 2 + x - w / 2) / 2
            label(ax, gap, top + 0.17, "(h, c)", size=SMALL, color=hidden)
    middle = left + width / 2
    label(ax, middle, 0.45, "window k = one batch (B, T): row b holds the next T characters of stream b", size=SMALL)
    label(
        ax,
        middle,
        0.15,
        "its final state (h, c), detached, is the initial state of window k + 1: gradients stay inside a window",
        size=SMALL,
        color=hidden,
    )
    return fig


# ---------------------------------------------------------------------------------------------
# 9. The linear recurrence h_t = a_t h_{t-1} + b_t step by step and by a parallel (Hillis-Steele) scan
# ---------------------------------------------------------------------------------------------


def parallel_scan():
    fig, ax = canvas(9.6, 5.7)
    hidden, gate = ROLES["hidden"][0], ROLES["gate"][0]
    steps, dx, x0 = 8, 0.9, 2.1
    columns = [x0 + i * dx for i in range(steps)]

    # Step by step: every h_t waits for h_{t-1}, T - 1 dependent steps.
    y_chain = 5.0
    label(ax, 0.15, y_chain + 0.1, "step by step", ha="left")
    label(ax, 0.15, y_chain - 0.16, "7 steps in a row", size=SMALL, color=MUTED, ha="left")
    previous = None
    for t, x in enumerate(columns, start=1):
        b = box(ax, x, y_chain, 0.56, 0.36, f"$h_{t}$", role="hidden")
        if previous:
            arrow(ax, previous.right, b.left, color=hidden)
        previous = b
    line(ax, (0.15, 4.5), (9.45, 4.5), color="#C4C4C4", lw=0.8)

    # The scan: level k combines element t with element t - 2^k; after log2 T levels, element t is h_t.
    rows = [3.95, 2.85, 1.75, 0.65]
    names = ["input", "round k = 0", "round k = 1", "round k = 2"]
    notes = ["$(a_t, b_t)$", "offset 1", "offset 2", "offset 4"]
    for level, (y, name, note) in enumerate(zip(rows, names, notes)):
        label(ax, 0.15, y + 0.1, name, ha="left")
        label(ax, 0.15, y - 0.16, note, size=SMALL, color=MUTED, ha="left")
        span = 2**level  # element t now covers steps max(1, t - span + 1) .. t
        for t, x in enumerate(columns, start=1):
            first = max(1, t - span + 1)
            done = first == 1
            text = f"{t}" if first == t else f"{first}..{t}"
            box(ax, x, y, 0.66, 0.4, text, role="hidden" if done and level else "input", size=SMALL)
            if level == 0:
                continue
            above = rows[level - 1] - 0.2
            arrow(ax, (x, above), (x, y + 0.2), color=INK, lw=1.0)
            offset = 2 ** (level - 1)
            if t - offset >= 1:
                arrow(ax, (columns[t - offset - 1] + 0.12, above), (x - 0.12, y + 0.2), color=gate, lw=1.0)
    label(
        ax,
        4.8,
        0.22,
        r"element $t$ (straight down) $\circ$ element $t - 2^k$ (slanted):   "
        r"$(a, b) \circ (a', b') = (a\,a',\ a\,b' + b)$",
        size=SMALL,
    )
    label(ax, 8.85, 0.65, "$= h_t$", color=hidden, ha="left")
    return fig


# ---------------------------------------------------------------------------------------------
# All figures
# ---------------------------------------------------------------------------------------------


FIGURES = {
    "rnn-unrolled": rnn_unrolled,
    "lstm-cell": lstm_cell,
    "gru-cell": gru_cell,
    "padded-vs-packed": padded_vs_packed,
    "bidirectional-stack": bidirectional_stack,
    "seq2seq-attention": seq2seq_attention,
    "segment-gru": segment_gru,
    "text-streams": text_streams,
    "parallel-scan": parallel_scan,
}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=IMAGES, help="folder to write to (default: images/)")
    args = parser.parse_args(argv)
    for name, draw in FIGURES.items():
        save(draw(), name, args.out)
        print(args.out / f"{name}.svg", args.out / f"{name}.png")


if __name__ == "__main__":
    main()

// The transcript: user messages, and replies streamed token by token. Every token of a reply is
// its own element so that pointing at it (mouse) or stepping onto it (arrow keys) can show the
// experts that computed it.

/**
 * @typedef {object} TokenTarget  the token under the pointer or the keyboard focus
 * @property {Reply} reply
 * @property {number} index       the token's place in its reply, from 0
 */

export class ChatView {
  /**
   * @param {HTMLOListElement} transcript
   * @param {(target: TokenTarget|null) => void} onTokenFocus called when the pointed or focused
   *   token changes; null when none is
   */
  constructor(transcript, onTokenFocus) {
    this.transcript = transcript;
    this.onTokenFocus = onTokenFocus;
    /** @type {Map<HTMLElement, Reply>} reply body element → reply */
    this.replies = new Map();
    this.watchTokens();
  }

  clear() {
    this.transcript.replaceChildren();
    this.replies.clear();
    this.onTokenFocus(null);
  }

  /** Add the user's message. */
  addUser(text) {
    const body = this.addMessage('user', 'You');
    body.textContent = text;
  }

  /** Add a note from the page (a stopped reply, an error). */
  addNote(text, kind = 'info') {
    const item = document.createElement('li');
    item.className = `message note note-${kind}`;
    item.textContent = text;
    this.transcript.append(item);
    this.scrollToEnd();
  }

  /**
   * Start an empty reply that tokens are appended to.
   * @param {string} author shown above the reply (the model's name)
   * @param {string|null} prompt for plain generation: the prompt the reply continues, shown first
   * @returns {Reply}
   */
  startReply(author, prompt = null) {
    const body = this.addMessage('assistant', author);
    if (prompt !== null) {
      const echoed = document.createElement('span');
      echoed.className = 'prompt-echo';
      echoed.textContent = prompt;
      body.append(echoed);
    }
    const reply = new Reply(body, () => this.scrollToEnd());
    this.replies.set(body, reply);
    return reply;
  }

  addMessage(role, author) {
    const item = document.createElement('li');
    item.className = `message ${role}`;
    const heading = document.createElement('p');
    heading.className = 'author';
    heading.textContent = author;
    const body = document.createElement('p');
    body.className = 'body';
    item.append(heading, body);
    this.transcript.append(item);
    this.scrollToEnd();
    return body;
  }

  scrollToEnd() {
    const { transcript } = this;
    const nearEnd = transcript.scrollHeight - transcript.scrollTop - transcript.clientHeight < 80;
    if (nearEnd || transcript.children.length <= 2) transcript.scrollTop = transcript.scrollHeight;
  }

  watchTokens() {
    const { transcript } = this;
    const targetOf = (element) => {
      const token = element && element.closest ? element.closest('.tok') : null;
      if (!token) return null;
      const reply = this.replies.get(token.parentElement);
      return reply ? { reply, index: Number(token.dataset.index), element: token } : null;
    };
    transcript.addEventListener('pointerover', (event) => {
      const target = targetOf(event.target);
      if (target) this.onTokenFocus(target);
    });
    transcript.addEventListener('pointerleave', () => {
      const focused = targetOf(document.activeElement);
      this.onTokenFocus(focused && transcript.contains(focused.element) ? focused : null);
    });
    transcript.addEventListener('focusin', (event) => {
      const target = targetOf(event.target);
      if (target) this.onTokenFocus(target);
    });
    transcript.addEventListener('focusout', (event) => {
      if (!targetOf(event.relatedTarget)) this.onTokenFocus(null);
    });
    transcript.addEventListener('keydown', (event) => {
      const target = targetOf(event.target);
      if (target) target.reply.moveFocus(target.index, event);
    });
  }
}

/** One streamed reply. Its first token (or the last one stepped onto) is its single tab stop. */
export class Reply {
  constructor(body, onGrow) {
    this.body = body;
    this.onGrow = onGrow;
    /** @type {HTMLSpanElement[]} */
    this.tokens = [];
    /** Routing of the reply's tokens, attached by the page (see routing-tracker.js). */
    this.routing = null;
  }

  /**
   * Append one generated token's text (possibly empty: part of a multi-byte character).
   * @param {string} text
   * @param {number} [tokenId] its id in the vocabulary, when the stream gives it
   */
  appendToken(text, tokenId) {
    const span = document.createElement('span');
    span.className = 'tok';
    span.dataset.index = String(this.tokens.length);
    if (tokenId !== undefined) {
      span.dataset.tokenId = String(tokenId);
      span.title = `token ${tokenId}`;
    }
    span.tabIndex = this.tokens.length === 0 ? 0 : -1;
    span.textContent = text;
    this.tokens.push(span);
    this.body.append(span);
    this.onGrow();
  }

  /** Mark the token whose choices the heatmap shows. */
  highlight(index) {
    for (const marked of this.body.querySelectorAll('.tok.highlighted')) marked.classList.remove('highlighted');
    if (index !== null && this.tokens[index]) this.tokens[index].classList.add('highlighted');
  }

  /** The reply ended: say why (length, stop, stopped by the user) under it. */
  finish(note) {
    if (note) {
      const small = document.createElement('small');
      small.className = 'finish-note';
      small.textContent = note;
      this.body.after(small);
    }
    this.body.setAttribute('aria-label', `Reply of ${this.tokens.length} tokens; use the arrow keys to step through them`);
  }

  /** Arrow keys, Home and End move between the reply's tokens. */
  moveFocus(from, event) {
    const last = this.tokens.length - 1;
    const to = {
      ArrowRight: Math.min(from + 1, last),
      ArrowDown: Math.min(from + 1, last),
      ArrowLeft: Math.max(from - 1, 0),
      ArrowUp: Math.max(from - 1, 0),
      Home: 0,
      End: last,
    }[event.key];
    if (to === undefined) return;
    event.preventDefault();
    this.tokens[from].tabIndex = -1;
    this.tokens[to].tabIndex = 0;
    this.tokens[to].focus();
  }
}

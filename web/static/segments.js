/*
 * SMS segment counting for the composer, the same algorithm as hub/domain/segments.py.
 * The two must give identical answers: tests/unit/test_segments_js.py runs this file under
 * node and compares it with the Python one.
 *
 * window.countSegments(text) -> {encoding, units, segments, perSegment, remaining}
 *   encoding    "GSM-7" or "UCS-2"
 *   units       septets for GSM-7, UTF-16 code units for UCS-2
 *   segments    SMS parts needed (0 for empty text)
 *   perSegment  capacity of one part: 160/70 single, 153/67 when split
 *   remaining   units free in the last part
 */
(function (root) {
  "use strict";

  // GSM 03.38 default alphabet without ESC (0x1B), which only introduces an extension
  // character and cannot be sent as a character of its own.
  var GSM7_BASIC =
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ" +
    " !\"#¤%&'()*+,-./0123456789:;<=>?" +
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§" +
    "¿abcdefghijklmnopqrstuvwxyzäöñüà";
  // Sent as ESC plus one septet, so each costs two.
  var GSM7_EXTENSION = "\f^{}\\[~]|€";

  var GSM7_SINGLE = 160;
  var GSM7_MULTI = 153;
  var UCS2_SINGLE = 70;
  var UCS2_MULTI = 67;

  var basic = new Set(GSM7_BASIC);
  var extension = new Set(GSM7_EXTENSION);

  function pack(costs, single, multi) {
    var units = 0;
    var i;
    for (i = 0; i < costs.length; i++) units += costs[i];
    if (units === 0) return { units: 0, segments: 0, perSegment: single, remaining: single };
    if (units <= single) {
      return { units: units, segments: 1, perSegment: single, remaining: single - units };
    }
    var segments = 1;
    var fill = 0;
    for (i = 0; i < costs.length; i++) {
      // A character that does not fit whole starts the next part, so that no part ends
      // with half an escape sequence or half a surrogate pair.
      if (fill + costs[i] > multi) {
        segments += 1;
        fill = 0;
      }
      fill += costs[i];
    }
    return { units: units, segments: segments, perSegment: multi, remaining: multi - fill };
  }

  function countSegments(text) {
    text = String(text == null ? "" : text);
    // for...of walks code points, as Python's str iteration does, so an astral character
    // is one item of cost 2 and a lone surrogate one item of cost 1.
    var gsmCosts = [];
    var isGsm = true;
    var ucsCosts = [];
    for (var ch of text) {
      ucsCosts.push(ch.length);
      if (!isGsm) continue;
      if (basic.has(ch)) gsmCosts.push(1);
      else if (extension.has(ch)) gsmCosts.push(2);
      else isGsm = false;
    }
    var packed = isGsm
      ? pack(gsmCosts, GSM7_SINGLE, GSM7_MULTI)
      : pack(ucsCosts, UCS2_SINGLE, UCS2_MULTI);
    return {
      encoding: isGsm ? "GSM-7" : "UCS-2",
      units: packed.units,
      segments: packed.segments,
      perSegment: packed.perSegment,
      remaining: packed.remaining,
    };
  }

  root.countSegments = countSegments;
})(typeof window !== "undefined" ? window : globalThis);

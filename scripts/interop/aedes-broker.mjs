// aedes 1.x MQTT broker for scripts/interop-mqtt.sh, loopback only:
//   node aedes-broker.mjs TCP_PORT WS_PORT   (WebSocket on any path, via ws's createWebSocketStream)
// Copied next to the npm-installed node_modules in the interop cache dir and run from there.
import { createServer } from 'node:net'
import { createServer as createHttpServer } from 'node:http'
import { Aedes } from 'aedes'
import { WebSocketServer, createWebSocketStream } from 'ws'

const [tcpPort, wsPort] = process.argv.slice(2).map(Number)
if (!tcpPort || !wsPort) {
  console.error('usage: node aedes-broker.mjs TCP_PORT WS_PORT')
  process.exit(2)
}

const aedes = await Aedes.createBroker()
const tcp = createServer(aedes.handle)
tcp.listen(tcpPort, '127.0.0.1', () => console.log(`mqtt tcp listening on 127.0.0.1:${tcpPort}`))

const http = createHttpServer()
const wss = new WebSocketServer({ server: http })
wss.on('connection', (socket, req) => aedes.handle(createWebSocketStream(socket), req))
http.listen(wsPort, '127.0.0.1', () => console.log(`mqtt ws listening on 127.0.0.1:${wsPort}`))

const stop = () => { aedes.close(() => { tcp.close(); http.close(); process.exit(0) }) }
process.on('SIGTERM', stop)
process.on('SIGINT', stop)
